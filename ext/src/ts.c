#include "ts.h"

#include <string.h>

uint32_t crc32_mpeg(const uint8_t *data, size_t len)
{
    static uint32_t table[256];
    static int ready;
    if (!ready) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i << 24;
            for (int k = 0; k < 8; k++)
                c = (c & 0x80000000u) ? (c << 1) ^ 0x04C11DB7u : c << 1;
            table[i] = c;
        }
        ready = 1;
    }
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < len; i++)
        crc = (crc << 8) ^ table[((crc >> 24) ^ data[i]) & 0xFF];
    return crc;
}

void psi_reset(psi_assembler *pa)
{
    pa->active = 0;
    pa->len = 0;
}

static void consume(psi_assembler *pa, const uint8_t *data, size_t n, psi_section_fn fn, void *ctx)
{
    while (n > 0 && pa->active) {
        if (pa->len == 0 && data[0] == 0xFF) {  /* stuffing: no more sections here */
            pa->active = 0;
            return;
        }
        size_t need;
        if (pa->len < 3) {
            need = 3 - pa->len;
        } else {
            size_t total = 3 + (((size_t)(pa->buf[1] & 0x0F) << 8) | pa->buf[2]);
            if (total > PSI_SECTION_MAX) {
                psi_reset(pa);
                return;
            }
            need = total - pa->len;
        }
        size_t take = n < need ? n : need;
        memcpy(pa->buf + pa->len, data, take);
        pa->len += take;
        data += take;
        n -= take;
        if (pa->len >= 3) {
            size_t total = 3 + (((size_t)(pa->buf[1] & 0x0F) << 8) | pa->buf[2]);
            if (total > PSI_SECTION_MAX) {
                psi_reset(pa);
                return;
            }
            if (pa->len == total) {
                fn(ctx, pa->buf, total);
                pa->len = 0;  /* another section may follow in the same payload */
            }
        }
    }
}

void psi_feed(psi_assembler *pa, const uint8_t *payload, size_t len, int unit_start,
              psi_section_fn fn, void *ctx)
{
    if (len == 0)
        return;
    if (!unit_start) {
        consume(pa, payload, len, fn, ctx);
        return;
    }
    size_t pointer = payload[0];
    if (1 + pointer > len) {
        psi_reset(pa);
        return;
    }
    if (pa->active && pa->len > 0)
        consume(pa, payload + 1, pointer, fn, ctx);  /* tail of the previous section */
    pa->active = 1;
    pa->len = 0;
    consume(pa, payload + 1 + pointer, len - 1 - pointer, fn, ctx);
}

size_t psi_packetize(const uint8_t *section, size_t len, unsigned pid, uint8_t *cc,
                     uint8_t *out)
{
    size_t count = 0, pos = 0;
    while ((pos < len || count == 0) && count < PSI_PACKETS_MAX) {
        uint8_t *p = out + count * TS_PACKET;
        p[0] = TS_SYNC;
        p[1] = (uint8_t)(((count == 0) ? 0x40 : 0x00) | ((pid >> 8) & 0x1F));
        p[2] = (uint8_t)(pid & 0xFF);
        p[3] = (uint8_t)(0x10 | (*cc & 0x0F));
        *cc = (uint8_t)((*cc + 1) & 0x0F);
        size_t off = 4;
        if (count == 0)
            p[off++] = 0;  /* pointer_field */
        size_t take = len - pos;
        if (take > TS_PACKET - off)
            take = TS_PACKET - off;
        memcpy(p + off, section + pos, take);
        memset(p + off + take, 0xFF, TS_PACKET - off - take);
        pos += take;
        count++;
    }
    return count;
}
