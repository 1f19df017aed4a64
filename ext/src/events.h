/* The JSON event lines of design.md ("stream", "segment", "end"), formatted into a
 * caller's buffer. Each returns the line length (no newline). */
#ifndef HLSD_EVENTS_H
#define HLSD_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "remux.h"

/* video/audio NULL when the program has no such stream; the have_* flags say whether
 * the parameters were read from the stream (else a generic codec name is used). */
size_t event_stream(char *buf, size_t cap, const video_params *video, int hevc, int have_video,
                    double fps, const audio_params *audio, unsigned audio_stream_type,
                    int have_audio, int captions);
/* Everything a segment event says. */
typedef struct {
    uint64_t seq;
    const char *file;
    int64_t dur_ticks;
    int64_t pts;
    uint64_t bytes;
    int keyframe;
    int discontinuity;
    uint64_t corrupt;   /* TS packets lost since the previous segment event; 0: not shown */
    const char *init;   /* fMP4: the init segment it needs; NULL for TS */
    uint64_t psi;       /* TS: bytes of PAT + PMT at its start; 0: not shown (fMP4) */
    int video;          /* the program has video: the keyframes are listed */
    const keyframe_range *keyframes;
    size_t nkeyframes;
} segment_report;

size_t event_segment(char *buf, size_t cap, const segment_report *r);
size_t event_init(char *buf, size_t cap, const char *file, uint64_t bytes);
size_t event_part(char *buf, size_t cap, uint64_t seq, unsigned index, const char *file,
                  int64_t dur_ticks, uint64_t bytes, int independent, int last);
/* corrupt: the total over the whole input, always shown. */
size_t event_end(char *buf, size_t cap, uint64_t segments, int64_t dur_ticks, uint64_t corrupt);

#endif
