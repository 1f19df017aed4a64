#include "bits.h"

void br_init(bit_reader *br, const uint8_t *data, size_t len)
{
    br->data = data;
    br->len = len;
    br->pos = 0;
    br->overrun = 0;
}

static unsigned br_bit(bit_reader *br)
{
    size_t byte = br->pos >> 3;
    if (byte >= br->len) {
        br->overrun = 1;
        return 0;
    }
    unsigned bit = (br->data[byte] >> (7 - (br->pos & 7))) & 1u;
    br->pos++;
    return bit;
}

uint32_t br_u(bit_reader *br, int nbits)
{
    uint32_t v = 0;
    for (int i = 0; i < nbits; i++)
        v = (v << 1) | br_bit(br);
    return v;
}

void br_skip(bit_reader *br, size_t nbits)
{
    size_t total = br->len * 8;
    if (br->pos > total || nbits > total - br->pos) {
        br->pos = total;
        br->overrun = 1;
        return;
    }
    br->pos += nbits;
}

uint32_t br_ue(bit_reader *br)
{
    int zeros = 0;
    while (br_bit(br) == 0) {
        if (br->overrun || ++zeros > 31) {
            br->overrun = 1;
            return 0;
        }
    }
    if (zeros == 0)
        return 0;
    return ((1u << zeros) - 1u) + br_u(br, zeros);
}

int32_t br_se(bit_reader *br)
{
    uint32_t k = br_ue(br);
    /* k <= 2^32-2, so (k+1)/2 fits in int32 only up to 2^31; clamp hostile values. */
    if (k > 0x7FFFFFFEu)
        k = 0x7FFFFFFEu;
    return (k & 1u) ? (int32_t)((k + 1) / 2) : -(int32_t)(k / 2);
}

size_t nal_unescape(uint8_t *dst, const uint8_t *src, size_t len)
{
    size_t out = 0;
    int zeros = 0;
    for (size_t i = 0; i < len; i++) {
        uint8_t b = src[i];
        if (zeros >= 2 && b == 3) {
            zeros = 0;
            continue;
        }
        zeros = (b == 0) ? zeros + 1 : 0;
        dst[out++] = b;
    }
    return out;
}
