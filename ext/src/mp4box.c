#include "mp4box.h"

#include <stdlib.h>
#include <string.h>

void bb_init(byte_buf *b, size_t limit)
{
    memset(b, 0, sizeof *b);
    b->limit = limit;
}

void bb_free(byte_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

uint8_t *bb_grow(byte_buf *b, size_t n)
{
    if (b->failed)
        return NULL;
    if (n > b->cap - b->len) {
        if ((b->limit && n > b->limit - b->len) || n > SIZE_MAX / 4 - b->len) {
            b->failed = 1;
            return NULL;
        }
        size_t cap = b->cap ? b->cap : 4096;
        while (cap - b->len < n)
            cap *= 2;
        if (b->limit && cap > b->limit)
            cap = b->limit;
        uint8_t *p = realloc(b->p, cap);
        if (!p) {
            b->failed = 1;
            return NULL;
        }
        b->p = p;
        b->cap = cap;
    }
    uint8_t *at = b->p + b->len;
    b->len += n;
    return at;
}

void bb_bytes(byte_buf *b, const void *data, size_t n)
{
    uint8_t *p = bb_grow(b, n);
    if (p && n)
        memcpy(p, data, n);
}

void bb_zeros(byte_buf *b, size_t n)
{
    uint8_t *p = bb_grow(b, n);
    if (p && n)
        memset(p, 0, n);
}

void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

void bb_u8(byte_buf *b, unsigned v)
{
    uint8_t *p = bb_grow(b, 1);
    if (p)
        p[0] = (uint8_t)v;
}

void bb_u16(byte_buf *b, unsigned v)
{
    uint8_t *p = bb_grow(b, 2);
    if (p) {
        p[0] = (uint8_t)(v >> 8);
        p[1] = (uint8_t)v;
    }
}

void bb_u24(byte_buf *b, uint32_t v)
{
    uint8_t *p = bb_grow(b, 3);
    if (p) {
        p[0] = (uint8_t)(v >> 16);
        p[1] = (uint8_t)(v >> 8);
        p[2] = (uint8_t)v;
    }
}

void bb_u32(byte_buf *b, uint32_t v)
{
    uint8_t *p = bb_grow(b, 4);
    if (p)
        put_be32(p, v);
}

void bb_u64(byte_buf *b, uint64_t v)
{
    bb_u32(b, (uint32_t)(v >> 32));
    bb_u32(b, (uint32_t)v);
}

void bb_fourcc(byte_buf *b, const char *cc)
{
    bb_bytes(b, cc, 4);
}

size_t box_open(byte_buf *b, const char *type)
{
    size_t start = b->len;
    bb_u32(b, 0);
    bb_fourcc(b, type);
    return start;
}

size_t full_box_open(byte_buf *b, const char *type, unsigned version, uint32_t flags)
{
    size_t start = box_open(b, type);
    bb_u8(b, version);
    bb_u24(b, flags);
    return start;
}

void box_close(byte_buf *b, size_t start)
{
    if (!b->failed)
        put_be32(b->p + start, (uint32_t)(b->len - start));
}
