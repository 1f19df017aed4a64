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
    /* For the MP4 decoder configuration records (avcC, hvcC). */
    unsigned chroma_format;         /* chroma_format_idc */
    unsigned bit_depth_luma;        /* bit_depth_luma_minus8 */
    unsigned bit_depth_chroma;      /* bit_depth_chroma_minus8 */
    /* HEVC general profile_tier_level and layering */
    unsigned profile_space, tier, profile_idc, level_idc;
    uint32_t compat_flags;
    uint8_t constraint_flags[6];
    unsigned max_sub_layers;        /* sps_max_sub_layers_minus1 + 1 */
    unsigned temporal_id_nesting;
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

/* One audio frame at the start of data (header included), for remuxing. */
typedef struct {
    size_t length;          /* whole frame, header included */
    size_t header;          /* bytes before the raw payload (ADTS: 7 or 9; MPEG audio: 0) */
    unsigned samples;       /* PCM samples per channel: the frame's duration */
    int sample_rate;
    int channels;
    unsigned object_type;   /* AAC: audioObjectType (2 = LC); MPEG audio: layer 1..3 */
    unsigned rate_index;    /* AAC: sampling_frequency_index */
    unsigned channel_config;/* AAC: channel_configuration */
    int mpeg1;              /* MPEG audio: MPEG-1 (else 2 / 2.5) */
} audio_frame;

/* 1: a whole frame is there; 0: its header is valid but the frame is incomplete;
 * -1: no frame header at data. */
int adts_frame(const uint8_t *data, size_t len, audio_frame *out);
int mpa_frame(const uint8_t *data, size_t len, audio_frame *out);

#endif
