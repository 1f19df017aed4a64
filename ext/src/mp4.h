/* CMAF boxes (ISO/IEC 14496-12, 14496-15, 14496-14; ISO/IEC 23000-19): the init
 * segment of the configured tracks, and the fragments of media segments. Pure
 * builders into a byte_buf: no state, no I/O. */
#ifndef HLSD_MP4_H
#define HLSD_MP4_H

#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "mp4box.h"
#include "nal.h"

/* A video track's decoder configuration: its parameter sets as they were in the
 * stream (NAL header included, emulation prevention kept) and what the SPS says. */
typedef struct {
    int hevc;
    size_t ps_len[NAL_PS_KINDS];
    uint8_t ps[NAL_PS_KINDS][NAL_SPS_MAX];
    video_params params;
} video_config;

/* An audio track's decoder configuration. */
typedef struct {
    unsigned oti;           /* objectTypeIndication: 0x40 AAC, 0x6B MPEG-1 audio, 0x69 MPEG-2 */
    uint8_t asc[2];         /* AAC AudioSpecificConfig (2 bytes from an ADTS header) */
    int sample_rate;
    int channels;
    unsigned frame_samples; /* every sample lasts this many ticks of sample_rate */
} audio_config;

/* Track IDs in the init segment: video 1, audio 2 (1 when there is no video). */
#define MP4_VIDEO_TRACK 1u
uint32_t mp4_audio_track(int have_video);

/* ftyp + moov for the tracks given (NULL: absent). */
void mp4_init_segment(byte_buf *b, const video_config *v, const audio_config *a);

/* One sample of a fragment's trun. */
typedef struct {
    uint32_t duration;
    uint32_t size;
    uint32_t flags;         /* sample_flags (video only) */
    int32_t cto;            /* composition offset, PTS - DTS (video only) */
} mp4_sample;

#define MP4_SYNC_FLAGS 0x02000000u      /* depends on no other sample */
#define MP4_NON_SYNC_FLAGS 0x01010000u  /* depends on others, is_non_sync_sample */

void mp4_styp(byte_buf *b);
/* moof (mfhd + one traf: tfhd default-base-is-moof, tfdt v1, trun v1) and the mdat
 * header for n samples whose data_len bytes of data follow it. Returns the size of
 * the moof. */
size_t mp4_fragment(byte_buf *b, uint32_t seq, uint32_t track_id, int video,
                    uint64_t decode_time, const mp4_sample *s, size_t n, uint64_t data_len);

#endif
