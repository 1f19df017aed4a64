/* A growable byte buffer with big-endian writers and ISO BMFF box framing: a box is
 * opened (size left blank), filled, and closed (size patched in). A failed allocation
 * sets `failed` and makes every later write a no-op, so callers check once at the end. */
#ifndef HLSD_MP4BOX_H
#define HLSD_MP4BOX_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint8_t *p;
    size_t len, cap;
    size_t limit;       /* the buffer never grows past this (0: no limit) */
    int failed;
} byte_buf;

void bb_init(byte_buf *b, size_t limit);
void bb_free(byte_buf *b);
static inline void bb_clear(byte_buf *b) { b->len = 0; b->failed = 0; }
/* Room for n more bytes; NULL (and failed set) when it cannot be had. */
uint8_t *bb_grow(byte_buf *b, size_t n);
void bb_bytes(byte_buf *b, const void *data, size_t n);
void bb_zeros(byte_buf *b, size_t n);
void bb_u8(byte_buf *b, unsigned v);
void bb_u16(byte_buf *b, unsigned v);
void bb_u24(byte_buf *b, uint32_t v);
void bb_u32(byte_buf *b, uint32_t v);
void bb_u64(byte_buf *b, uint64_t v);
void bb_fourcc(byte_buf *b, const char *cc);

/* Opens a box (a full box with version/flags); returns where it starts, for close. */
size_t box_open(byte_buf *b, const char *type);
size_t full_box_open(byte_buf *b, const char *type, unsigned version, uint32_t flags);
void box_close(byte_buf *b, size_t start);

void put_be32(uint8_t *p, uint32_t v);

#endif
