/* MPEG-TS elementary streams into CMAF samples, and samples into fragments.
 *
 * Video: the PES payload of an access unit is collected (Annex B) and, once the
 * access unit is complete, turned into one sample of 4-byte length-prefixed NAL units
 * (access unit delimiters dropped; parameter sets stay in-band). Audio: every whole
 * ADTS / MPEG audio frame is one sample (ADTS header stripped) as soon as its last
 * byte is there. Samples wait in their track until remux_write() puts them out as
 * one fragment per track (moof + mdat, video first), so memory holds one fragment
 * (a GOP at most: the segmenter writes a fragment at every keyframe) and never
 * grows with the stream's length. */
#ifndef HLSD_REMUX_H
#define HLSD_REMUX_H

#include <stddef.h>
#include <stdint.h>

#include "mp4.h"
#include "nal.h"
#include "writer.h"

typedef struct {
    uint32_t size;
    int64_t time;               /* video: DTS; audio: PTS (90 kHz, 33-bit circle) */
    int32_t cto;                /* video: PTS - DTS */
    int sync;
} remux_sample;

typedef struct {
    uint32_t id;                /* track_ID in the open segment's init; 0: not in it */
    remux_sample *samples;      /* waiting for the next fragment */
    mp4_sample *entries;        /* the trun being built (same capacity) */
    size_t n, cap;
    byte_buf data;              /* their bytes, in order */
    int anchored;
    uint64_t next_decode;       /* baseMediaDecodeTime of the next fragment */
} remux_track;

/* The byte range of a fragment that starts with a keyframe: from its moof to the
 * end of the keyframe's data. */
typedef struct {
    uint64_t offset, size;
    int64_t pts;
} keyframe_range;

typedef struct {
    remux_track video, audio;
    video_config vcfg, vnext;   /* in use; seen in the stream and waiting for a cut */
    int have_vcfg, have_vnext, video_synced;
    int64_t vstep;              /* the last DTS step: the duration when none is measured */
    int au_open;                /* collecting an access unit */
    byte_buf au;
    audio_config acfg, anext;
    int have_acfg, audio_change;
    /* The open segment's init is written: the configurations in use are fixed until
     * the next segment, and a new one waits (and asks for a cut). */
    int locked;
    int apes_has_pts;
    int64_t apes_pts;           /* PTS of the current audio PES and frames taken from it */
    unsigned apes_frames;
    /* Both tracks' decode times count from the first sample written, so they keep the
     * distance their timestamps had (A/V sync) and grow past the 33-bit wrap. */
    int anchored;
    int64_t anchor_time;
    uint64_t anchor_90k;
    byte_buf box;
    uint32_t moof_seq;
    uint64_t dropped;           /* samples that could not be kept (see remux.c) */
} remux;

int remux_init(remux *r);
void remux_free(remux *r);

/* Video: a PES starts, its payload bytes, and its end (the access unit is complete). */
void remux_video_start(remux *r);
void remux_video_data(remux *r, const uint8_t *data, size_t len);
void remux_video_end(remux *r, enum nal_codec codec, int has_pts, int64_t pts, int64_t dts);
/* The parameter sets in front of an access unit's first slice: 1 when they differ
 * from the configuration in use (they then wait for remux_commit()). */
int remux_video_params(remux *r, const nal_scanner *sc);

/* Audio: a PES header, then its payload from *used on; whole frames are taken and
 * *used advanced past them. adts: ADTS AAC, else MPEG audio. */
void remux_audio_pes(remux *r, int has_pts, int64_t pts);
void remux_audio_data(remux *r, int adts, const uint8_t *buf, size_t len, size_t *used);

/* Waiting configurations that nothing written or waiting depends on take effect. */
void remux_apply_free(remux *r);
/* A waiting configuration needs a new init, so a new segment. */
int remux_needs_cut(const remux *r);
/* A new segment starts: waiting configurations take effect, nothing is fixed. */
void remux_commit(remux *r);
int remux_has_samples(const remux *r);
/* The waiting samples are many or large: write a fragment at the next chance. */
int remux_wants_flush(const remux *r);
void remux_discard(remux *r);

/* The init segment for the configurations in use; sets the track IDs. */
void remux_init_segment(remux *r, byte_buf *out);
/* What remux_write() wrote. */
typedef struct {
    int keyframe;               /* the video fragment starts with a sync sample: */
    keyframe_range kf;          /* its byte range in w */
    int64_t ticks;              /* 90 kHz: how long it lasts (video, else audio) */
    uint64_t bytes;
} fragment_info;

/* Writes the waiting samples as fragments into w, and the same bytes into also
 * (an LL-HLS part file) unless it is NULL. next_dts: the DTS of the video access unit
 * that follows them, when have_next. */
void remux_write(remux *r, seg_writer *w, seg_writer *also, int have_next, int64_t next_dts,
                 fragment_info *out);

#endif
