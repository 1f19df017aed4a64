/* Elementary-stream headers: H.264/HEVC sequence parameter sets and AAC (ADTS) /
 * MPEG audio frame headers, turned into RFC 6381 codec strings and durations. */
#ifndef HLSD_CODEC_H
#define HLSD_CODEC_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    char codec[64];     /* RFC 6381, e.g. "avc1.64001f", "hvc1.1.6.L93.B0" */
    int width;          /* after cropping */
    int height;
} video_params;

typedef struct {
    char codec[32];     /* e.g. "mp4a.40.2", "mp4a.40.34" */
    int sample_rate;
    int channels;
} audio_params;

/* nal: one complete SPS NAL unit, header byte(s) included, escaped as in the stream. */
int h264_parse_sps(const uint8_t *nal, size_t len, video_params *out);
int hevc_parse_sps(const uint8_t *nal, size_t len, video_params *out);

/* Walks the frames of one PES payload. Returns its duration in 90 kHz ticks (0 when
 * no whole frame was found) and fills *first from the first frame header when first
 * is not NULL and a frame was found. */
uint64_t adts_walk(const uint8_t *data, size_t len, audio_params *first);
uint64_t mpa_walk(const uint8_t *data, size_t len, audio_params *first);

#endif
