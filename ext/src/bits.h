/* Bit reader for codec headers (SPS, ADTS...). Reads past the end return zeros and
 * set `overrun`, so a truncated or hostile header can never read out of bounds. */
#ifndef HLSD_BITS_H
#define HLSD_BITS_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const uint8_t *data;
    size_t len;     /* bytes */
    size_t pos;     /* bits consumed */
    int overrun;
} bit_reader;

void br_init(bit_reader *br, const uint8_t *data, size_t len);
uint32_t br_u(bit_reader *br, int nbits);          /* nbits <= 32 */
void br_skip(bit_reader *br, size_t nbits);
uint32_t br_ue(bit_reader *br);                    /* Exp-Golomb, unsigned */
int32_t br_se(bit_reader *br);                     /* Exp-Golomb, signed */

/* Copies a NAL unit without its emulation-prevention bytes (00 00 03 -> 00 00).
 * dst must hold len bytes. Returns the unescaped length. */
size_t nal_unescape(uint8_t *dst, const uint8_t *src, size_t len);

#endif
