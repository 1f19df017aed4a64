/* libFuzzer entry point: the first input byte picks the options and the chunk size
 * the rest is fed in, so the packet-sync carry between reads is exercised too.
 * Segments are "written" with dir == NULL: same code path, no file system.
 * Mode byte: bits 0-2 duration, bit 3 --max-duration (with fmp4 also LL-HLS parts),
 * bits 4-5 chunk size, bit 6 --format fmp4, bit 7 a grid origin near the 33-bit wrap. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "segmenter.h"

static int fmp4;

static int contains(const char *line, size_t len, const char *what)
{
    size_t n = strlen(what);
    for (size_t i = 0; i + n <= len; i++)
        if (memcmp(line + i, what, n) == 0)
            return 1;
    return 0;
}

static void check_line(void *ctx, const char *line, size_t len)
{
    (void)ctx;
    if (len < 2 || line[0] != '{' || line[len - 1] != '}' || memchr(line, '\n', len))
        abort();  /* every event must be one JSON object on one line */
    if (fmp4 && contains(line, len, "\"event\":\"segment\"") && !contains(line, len, "\"init\":"))
        abort();  /* every fMP4 segment names its init */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned mode = data[0];
    data++;
    size--;
    hs_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.duration = 0.1 + 0.4 * (mode & 7);
    cfg.max_duration = (mode & 8) ? cfg.duration * 1.5 : 0;
    cfg.dir = NULL;
    cfg.prefix = "fuzz";
    cfg.start_seq = 99998;
    cfg.grid_origin = (mode & 0x80) ? 0x1FFFFFF00LL : -1; /* near the 33-bit wrap */
    cfg.fmp4 = fmp4 = (mode & 0x40) != 0;
    cfg.part_duration = (fmp4 && (mode & 8)) ? cfg.duration / 3 : 0;
    cfg.on_event = check_line;
    hs_segmenter *s = hs_create(&cfg);
    if (!s)
        return 0;
    uint8_t buf[4096];
    size_t have = 0, pos = 0;
    size_t chunk = 1 + (size_t)((mode >> 4) & 3) * 331;
    while (pos < size) {
        size_t n = size - pos;
        if (n > chunk)
            n = chunk;
        if (n > sizeof buf - have)
            n = sizeof buf - have;
        memcpy(buf + have, data + pos, n);
        if (n >= 6 && (data[pos] & 0x3F) == 0x2A) {  /* a live cut point now and then */
            const uint8_t *p = data + pos + 1;
            hs_add_cut(s, (int64_t)p[0] << 32 | (int64_t)p[1] << 24 | p[2] << 16 | p[3] << 8 | p[4]);
        }
        have += n;
        pos += n;
        size_t used = hs_feed(s, buf, have, 0);
        if (used > have)
            abort();
        memmove(buf, buf + used, have - used);
        have -= used;
        memset(buf + have, 0xAA, sizeof buf - have);  /* stale references must not survive */
    }
    if (hs_feed(s, buf, have, 1) != have)
        abort();
    hs_finish(s);
    hs_destroy(s);
    return 0;
}
