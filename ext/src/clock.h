/* The MPEG-TS clock: 90 kHz timestamps on a 33-bit circle. */
#ifndef HLSD_CLOCK_H
#define HLSD_CLOCK_H

#include <stdint.h>

#define TICKS 90000
#define PTS_MASK ((1ULL << 33) - 1)
#define JUMP_LIMIT (5 * TICKS)          /* a forward DTS step larger than this is a break */

/* a - b on the 33-bit timestamp circle, as a signed distance. */
static inline int64_t ts_diff(int64_t a, int64_t b)
{
    int64_t d = (int64_t)(((uint64_t)a - (uint64_t)b) & PTS_MASK);
    return d >= (1LL << 32) ? d - (1LL << 33) : d;
}

#endif
