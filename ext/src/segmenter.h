/* The segmenter core: MPEG-TS bytes in, segment files and event lines out.
 * No global state and no I/O besides the segment files, so main() and the fuzz
 * harness drive exactly the same code. */
#ifndef HLSD_SEGMENTER_H
#define HLSD_SEGMENTER_H

#include <stddef.h>
#include <stdint.h>

#define HS_LIVE_CUTS_MAX 64  /* live cut points waiting at once */

typedef struct {
    double duration;        /* target segment length, seconds (> 0) */
    double max_duration;    /* hard limit, seconds; 0 = none */
    const char *dir;        /* absolute directory; NULL: write nothing (fuzzing) */
    const char *prefix;
    uint64_t start_seq;
    /* A PTS (90 kHz) that a segment boundary falls on; boundaries follow every
     * `duration` after it. -1: the first timestamp of the input. Rungs given the same
     * origin cut at the same instants, even when one of them starts later. */
    int64_t grid_origin;
    /* With a grid origin: the number of the cell that starts at it. A segment is then
     * numbered by its cell, but never below start_seq nor below the one before it. */
    uint64_t grid_seq;
    /* Nonzero: the locked timeline (redundant hosts). The grid is every `duration` of
     * the input's own clock unwrapped onto the wall clock's 33-bit epoch, and a segment
     * is numbered by its cell of that clock; grid_origin and grid_seq are ignored.
     * wall_clock gives the time in seconds since 1970 (only asked at a timeline's
     * start). */
    int locked;
    double (*wall_clock)(void *ctx);
    /* Extra cut points (ad splice points), seconds after the grid origin, ascending:
     * a segment also starts at the first keyframe at each (half a frame early counts),
     * and the grid goes on as before after it (a short segment, never a drift). Not
     * with `locked`. NULL/0: none. The array must outlive the segmenter. */
    const double *cuts;
    size_t ncuts;
    /* 0: MPEG-TS segments (NAME-<seq>.ts); 1: CMAF, an init segment NAME-init-<hash>.mp4
     * and media segments NAME-<seq>.m4s. */
    int fmp4;
    /* fMP4 only, seconds; 0: none. LL-HLS parts: fragments of at most this long (and
     * one at every keyframe), each also written to NAME-<seq>.<i>.m4s and announced by
     * a part event as soon as it is complete. */
    double part_duration;
    /* One JSON event line (no newline). */
    void (*on_event)(void *ctx, const char *line, size_t len);
    /* One diagnostic message (no newline); NULL: silent. */
    void (*on_log)(void *ctx, const char *msg);
    void *ctx;
} hs_config;

typedef struct hs_segmenter hs_segmenter;

hs_segmenter *hs_create(const hs_config *cfg);
/* Consumes whole packets from buf; returns how many bytes were used. The rest (less
 * than three packets) must be passed again, with more data after it. With eof set,
 * everything is consumed. */
size_t hs_feed(hs_segmenter *s, const uint8_t *buf, size_t len, int eof);
/* End of input: writes and reports the last segment, then the end event. */
int hs_finish(hs_segmenter *s);
/* A cut point given while running (a live ad splice point): a PTS of the input's own
 * clock. A segment starts at the first keyframe (audio only: frame) at it, half a frame
 * early counting, and the grid goes on after it. 0: taken; 1: not after the newest one,
 * or its media has passed already (logged); -1: not with `locked`, or too many waiting. */
int hs_add_cut(hs_segmenter *s, int64_t pts);
/* Nonzero once an I/O error happened (reported through on_log). */
int hs_failed(const hs_segmenter *s);
void hs_destroy(hs_segmenter *s);

#endif
