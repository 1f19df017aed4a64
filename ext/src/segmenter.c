/* How a cut is made. Packets are passed to the current segment as they come, except
 * from the start of a timing-stream PES (video if the program has video, else audio)
 * until we know enough about that access unit: its PTS and, for video, the type of
 * its first slice NAL unit (IDR/IRAP or not). Those few packets, of every PID, are
 * held; then decide() cuts before them or not, and they follow in order. ffmpeg's
 * muxer writes each PES contiguously, so a cut there splits no other stream's PES.
 * A segment's duration is the PTS distance to the next segment's first access unit;
 * the last one (and one ended by a timestamp break) runs to its last PTS plus one
 * frame (video) or the length of its last PES (audio). */
#define _POSIX_C_SOURCE 200809L
#include "segmenter.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "events.h"
#include "nal.h"
#include "ts.h"
#include "writer.h"

#define TICKS 90000
#define PTS_MASK ((1ULL << 33) - 1)
#define JUMP_LIMIT (5 * TICKS)          /* a forward DTS step larger than this is a break */
#define PENDING_MAX (8u << 20)          /* packets held while an access unit is examined */
#define AUDIO_PES_MAX (256u << 10)

enum es_kind { K_NONE, K_H264, K_HEVC, K_ADTS, K_MPA, K_AUDIO_OTHER };
enum hdr_state { HDR_NONE, HDR_COLLECT, HDR_DONE, HDR_BAD };

/* One elementary stream we parse: its current PES and timestamp history. */
typedef struct {
    unsigned pid;               /* 0: not present */
    enum es_kind kind;
    unsigned stream_type;
    int last_cc;                /* -1: none yet */
    int in_pes;
    enum hdr_state hdr_state;
    size_t hdr_got, hdr_need;
    uint8_t hdr[32];
    int has_pts;
    int64_t pts, dts;
    int has_prev;
    int64_t prev_t;             /* previous DTS, for breaks and frame duration */
    int jump;                   /* this PES follows a timestamp break */
    nal_scanner nal;            /* video */
    uint8_t *abuf;              /* audio: payload of the current PES */
    size_t alen;
} es_state;

struct hs_segmenter {
    hs_config cfg;
    double dur_ticks, max_ticks;
    /* Cuts follow a fixed grid (origin + k x duration), not "duration after the last
     * cut": late keyframes or audio PES boundaries then never accumulate into drift. */
    int grid_set;
    int64_t grid_origin;
    double next_boundary;  /* ticks after grid_origin */
    int synced;
    uint64_t offset;            /* input bytes consumed */

    psi_assembler pat_asm, pmt_asm;
    int have_pat, have_pmt;
    unsigned pmt_pid;
    size_t pat_len, pmt_len;
    uint8_t pat[PSI_SECTION_MAX], pmt[PSI_SECTION_MAX];
    uint8_t cc_pat, cc_pmt;     /* our counters: tables are inserted into segments */

    es_state video, audio;
    es_state *timing;           /* video if any, else audio */

    video_params vparams;
    audio_params aparams;
    int have_vparams, have_aparams;
    size_t last_sps_len;
    uint8_t last_sps[NAL_SPS_MAX];
    int64_t frame_ticks;        /* video: smallest DTS step; audio: last PES duration */
    int64_t audio_step;         /* audio PES PTS step, when frames cannot be walked */
    unsigned aac_hint;          /* object type signalled in the PMT (5: SBR, 29: PS), or 0 */
    uint64_t rate_frames;       /* video access units since rate_first_dts */
    int64_t rate_first_dts, rate_span; /* for the average frame rate */
    double last_fps;
    int have_offset;
    int64_t min_offset, max_offset; /* video PTS - DTS range: how far B-frames reorder */
    char announced[512];

    int pending;                /* holding packets from a timing-stream unit start */
    uint8_t *pend;
    size_t pend_len, pend_cap;

    seg_writer w;
    uint64_t seq;
    int seg_open, seg_has_first, seg_keyframe, seg_disc;
    int64_t seg_first, seg_max_rel, seg_end_rel;

    uint64_t segments;
    int64_t total_ticks;
    int failed;

    uint64_t packets, skipped_bytes, resyncs, corrupt, cc_errors, before_pmt, truncated,
        forced_cuts, jumps;
};

static void log_msg(hs_segmenter *s, const char *fmt, ...)
{
    if (!s->cfg.on_log)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    s->cfg.on_log(s->cfg.ctx, msg);
}

static void emit(hs_segmenter *s, const char *line, size_t len)
{
    if (s->cfg.on_event)
        s->cfg.on_event(s->cfg.ctx, line, len);
}

/* a - b on the 33-bit timestamp circle, as a signed distance. */
static int64_t ts_diff(int64_t a, int64_t b)
{
    int64_t d = (int64_t)(((uint64_t)a - (uint64_t)b) & PTS_MASK);
    return d >= (1LL << 32) ? d - (1LL << 33) : d;
}

static int is_video(const es_state *es) { return es->kind == K_H264 || es->kind == K_HEVC; }

static void io_fail(hs_segmenter *s)
{
    if (!s->failed)
        log_msg(s, "I/O error: %s", s->w.error[0] ? s->w.error : "unknown");
    s->failed = 1;
}

/* ---- segments ---------------------------------------------------------- */

static void put_table(hs_segmenter *s, const uint8_t *sec, size_t len, unsigned pid, uint8_t *cc)
{
    uint8_t pk[PSI_PACKETS_MAX * TS_PACKET];
    size_t n = psi_packetize(sec, len, pid, cc, pk);
    memcpy(writer_reserve(&s->w, n * TS_PACKET), pk, n * TS_PACKET);  /* n <= 12: fits */
}

static void open_segment(hs_segmenter *s)
{
    if (writer_open(&s->w, s->seq) < 0)
        io_fail(s);
    s->seg_open = 1;
    s->seg_has_first = 0;
    s->seg_keyframe = 0;
    s->seg_disc = 0;
    s->seg_first = s->seg_max_rel = s->seg_end_rel = 0;
    put_table(s, s->pat, s->pat_len, PID_PAT, &s->cc_pat);
    put_table(s, s->pmt, s->pmt_len, s->pmt_pid, &s->cc_pmt);
}

static int64_t segment_end(const hs_segmenter *s)
{
    if (!s->seg_has_first)
        return 0;
    if (s->timing && is_video(s->timing))
        return s->seg_max_rel + s->frame_ticks;
    return s->seg_end_rel > s->seg_max_rel ? s->seg_end_rel : s->seg_max_rel;
}

/* Average video frame rate so far, snapped to the usual rates (59.94 has steps of
 * 1501 and 1502 ticks, so a single step cannot tell it); 0 when unknown. */
static double frame_rate(hs_segmenter *s)
{
    static const double usual[] = {24000.0 / 1001, 24, 25, 30000.0 / 1001, 30, 48, 50,
                                   60000.0 / 1001, 60, 100, 120000.0 / 1001, 120};
    if (s->rate_frames < 2 || s->rate_span <= 0)
        return s->last_fps;  /* just after a timestamp break: keep what we knew */
    double fps = 90000.0 * (double)(s->rate_frames - 1) / (double)s->rate_span;
    for (size_t i = 0; i < sizeof usual / sizeof usual[0]; i++) {
        if (fps > usual[i] * 0.9998 && fps < usual[i] * 1.0002) {  /* 29.97 vs 30: 0.1% */
            fps = usual[i];
            break;
        }
    }
    s->last_fps = fps;
    return fps;
}

static void announce_stream(hs_segmenter *s)
{
    char line[512];
    size_t len = event_stream(line, sizeof line,
                              s->video.pid ? &s->vparams : NULL, s->video.kind == K_HEVC,
                              s->have_vparams, frame_rate(s),
                              s->audio.pid ? &s->aparams : NULL, s->audio.stream_type,
                              s->have_aparams);
    if (strcmp(line, s->announced) != 0) {
        memcpy(s->announced, line, len + 1);
        emit(s, line, len);
    }
}

static void finish_segment(hs_segmenter *s, int64_t dur)
{
    if (!s->seg_open)
        return;
    s->seg_open = 0;
    if (!s->seg_has_first) {
        /* Not one timestamp of the timing stream: nothing a playlist could time. */
        log_msg(s, "dropping %llu bytes without a %s timestamp",
                (unsigned long long)s->w.bytes,
                s->timing ? (is_video(s->timing) ? "video" : "audio") : "video or audio");
        writer_abort(&s->w);
        return;
    }
    if (writer_close(&s->w) < 0) {
        io_fail(s);
        return;
    }
    if (dur < 0)
        dur = 0;
    announce_stream(s);
    char line[8192];
    size_t len = event_segment(line, sizeof line, s->seq, s->w.final_path, dur,
                               s->seg_has_first ? s->seg_first : 0, s->w.bytes,
                               s->seg_keyframe, s->seg_disc);
    emit(s, line, len);
    s->segments++;
    s->total_ticks += dur;
    s->seq++;
}

static void start_timing(hs_segmenter *s, int64_t pts, int rap)
{
    s->seg_has_first = 1;
    s->seg_first = pts;
    s->seg_keyframe = rap;
    s->seg_max_rel = 0;
    s->seg_end_rel = 0;
}

/* stable: pkt lies in the caller's input buffer, valid until hs_feed returns, so the
 * writer may reference it instead of copying it. */
static void out_packet(hs_segmenter *s, const uint8_t *pkt, int stable)
{
    if (!s->seg_open)
        open_segment(s);
    unsigned pid = ts_pid(pkt);
    if ((pid == PID_PAT || pid == s->pmt_pid) && (pkt[3] & 0x10)) {
        /* Our inserted tables took counter values: renumber the stream's own ones. */
        uint8_t *d = writer_reserve(&s->w, TS_PACKET);
        memcpy(d, pkt, TS_PACKET);
        uint8_t *cc = (pid == PID_PAT) ? &s->cc_pat : &s->cc_pmt;
        d[3] = (uint8_t)((d[3] & 0xF0) | *cc);
        *cc = (uint8_t)((*cc + 1) & 0x0F);
    } else if (stable) {
        writer_put_ref(&s->w, pkt, TS_PACKET);
    } else {
        memcpy(writer_reserve(&s->w, TS_PACKET), pkt, TS_PACKET);
    }
}

/* ---- cutting ------------------------------------------------------------ */

/* The first grid boundary after pts (half a frame early counts as on it). */
static void set_grid(hs_segmenter *s, int64_t origin, int64_t pts)
{
    s->grid_set = 1;
    s->grid_origin = (int64_t)((uint64_t)origin & PTS_MASK);
    double g = (double)ts_diff(pts, s->grid_origin) + (double)s->frame_ticks / 2.0;
    s->next_boundary = (floor(g / s->dur_ticks) + 1.0) * s->dur_ticks;
}

/* With --grid-origin, a segment is numbered by its grid cell (--grid-seq = the cell at
 * the origin): a rung that starts late, on the same clock as the others, then gets
 * the same numbers as they do. Numbers never go back: a cell behind the next number
 * (another clock, a cut without keyframe) keeps counting on from it. */
static void number_by_grid(hs_segmenter *s, int64_t pts)
{
    if (s->cfg.grid_origin < 0)
        return;
    double g = (double)ts_diff(pts, s->grid_origin) + (double)s->frame_ticks / 2.0;
    double cell = floor(g / s->dur_ticks);
    if (cell < 0 || cell > 1e12)
        return;
    uint64_t seq = s->cfg.grid_seq + (uint64_t)cell;
    if (seq > s->seq) {
        s->seq = seq;
        writer_renumber(&s->w, seq);
    }
}

/* The timing stream's access unit at the head of the pending packets is known:
 * cut before it or not. */
static void decide(hs_segmenter *s, es_state *es)
{
    int64_t pts = es->pts;
    int rap = is_video(es) ? es->nal.rap : 1;
    if (!s->seg_open)
        open_segment(s);
    if (!s->seg_has_first) {
        start_timing(s, pts, rap);
        if (!s->grid_set)
            set_grid(s, s->cfg.grid_origin >= 0 ? s->cfg.grid_origin : pts, pts);
        number_by_grid(s, pts);
        return;
    }
    int64_t e = ts_diff(pts, s->seg_first);
    int64_t g = ts_diff(pts, s->grid_origin);
    int cut = 0, forced = 0;
    if (es->jump) {
        cut = 1;
    } else if (e > 0 && rap && (double)g >= s->next_boundary - (double)s->frame_ticks / 2.0) {
        cut = 1;
    } else if (e > 0 && s->max_ticks > 0 &&
               (double)(e + s->frame_ticks + (s->max_offset - s->min_offset)) > s->max_ticks) {
        /* Cutting here gives a segment of e. The next access unit in decode order may
         * present up to the reorder distance later, so stop while e is still in range. */
        cut = 1;
        forced = !rap;
    }
    if (cut) {
        finish_segment(s, es->jump ? segment_end(s) : e);
        if (forced) {
            s->forced_cuts++;
            log_msg(s, "segment %llu cut without a keyframe after %.3f s (--max-duration)",
                    (unsigned long long)(s->seq - 1), (double)e / TICKS);
        }
        if (es->jump)
            log_msg(s, "timestamp break (%.3f s -> %.3f s): segment %llu starts a discontinuity",
                    (double)((uint64_t)(s->seg_first + s->seg_max_rel) & PTS_MASK) / TICKS,
                    (double)pts / TICKS, (unsigned long long)s->seq);
        open_segment(s);
        start_timing(s, pts, rap);
        /* After a timestamp break the old grid means nothing: start one at the break. */
        set_grid(s, es->jump ? pts : s->grid_origin, pts);
        if (!es->jump)
            number_by_grid(s, pts);
        s->seg_disc = es->jump;
        return;
    }
    if (e > s->seg_max_rel)
        s->seg_max_rel = e;
}

static void apply_sps(hs_segmenter *s, es_state *es)
{
    const nal_scanner *sc = &es->nal;
    if (sc->sps_len == 0 ||
        (sc->sps_len == s->last_sps_len && memcmp(sc->sps, s->last_sps, sc->sps_len) == 0))
        return;
    memcpy(s->last_sps, sc->sps, sc->sps_len);
    s->last_sps_len = sc->sps_len;
    video_params p;
    int rc = (es->kind == K_H264) ? h264_parse_sps(sc->sps, sc->sps_len, &p)
                                  : hevc_parse_sps(sc->sps, sc->sps_len, &p);
    if (rc == 0) {
        s->vparams = p;
        s->have_vparams = 1;
    }
}

static void resolve_pending(hs_segmenter *s)
{
    es_state *es = s->timing;
    s->pending = 0;
    if (es && es->hdr_state == HDR_DONE && es->has_pts)
        decide(s, es);
    if (es && is_video(es))
        apply_sps(s, es);  /* after the cut: new parameters belong to the new segment */
    for (size_t off = 0; off < s->pend_len; off += TS_PACKET)
        out_packet(s, s->pend + off, 0);
    s->pend_len = 0;
}

static int pend_push(hs_segmenter *s, const uint8_t *pkt)
{
    if (s->pend_len + TS_PACKET > s->pend_cap) {
        size_t cap = s->pend_cap ? s->pend_cap * 2 : 64 * TS_PACKET;
        uint8_t *p = realloc(s->pend, cap);
        if (!p)
            return -1;
        s->pend = p;
        s->pend_cap = cap;
    }
    memcpy(s->pend + s->pend_len, pkt, TS_PACKET);
    s->pend_len += TS_PACKET;
    return 0;
}

/* ---- PES ---------------------------------------------------------------- */

static int64_t read_ts(const uint8_t *p)
{
    return ((int64_t)((p[0] >> 1) & 0x07) << 30) | ((int64_t)p[1] << 22) |
           ((int64_t)(p[2] >> 1) << 15) | ((int64_t)p[3] << 7) | (int64_t)(p[4] >> 1);
}

static void es_header_done(hs_segmenter *s, es_state *es)
{
    unsigned flags = es->hdr[7], hlen = es->hdr[8];
    es->hdr_state = HDR_DONE;
    if ((flags & 0x80) && hlen >= 5) {
        es->has_pts = 1;
        es->pts = read_ts(es->hdr + 9);
        es->dts = ((flags & 0x40) && hlen >= 10) ? read_ts(es->hdr + 14) : es->pts;
    }
    if (es != s->timing || !es->has_pts)
        return;
    if (is_video(es)) {
        int64_t off = ts_diff(es->pts, es->dts);
        if (off >= 0 && off < TICKS) {
            if (!s->have_offset || off < s->min_offset)
                s->min_offset = off;
            if (!s->have_offset || off > s->max_offset)
                s->max_offset = off;
            s->have_offset = 1;
        }
    }
    if (es->has_prev) {
        int64_t d = ts_diff(es->dts, es->prev_t);
        if (d < 0 || d > JUMP_LIMIT) {
            es->jump = 1;
            s->jumps++;
            s->rate_frames = 0;
        } else if (d > 0 && d < TICKS) {
            if (is_video(es)) {
                if (s->frame_ticks == 0 || d < s->frame_ticks)
                    s->frame_ticks = d;
            } else {
                s->audio_step = d;
            }
        }
    }
    if (is_video(es)) {
        if (s->rate_frames == 0)
            s->rate_first_dts = es->dts;
        s->rate_frames++;
        s->rate_span = ts_diff(es->dts, s->rate_first_dts);
    }
    es->prev_t = es->dts;
    es->has_prev = 1;
}

static void es_start(es_state *es)
{
    es->in_pes = 1;
    es->hdr_state = HDR_COLLECT;
    es->hdr_got = 0;
    es->hdr_need = 9;
    es->has_pts = 0;
    es->jump = 0;
    es->alen = 0;
    if (is_video(es))
        nal_scan_reset(&es->nal, es->kind == K_H264 ? NAL_H264 : NAL_HEVC);
}

static void es_payload(hs_segmenter *s, es_state *es, const uint8_t *data, size_t len)
{
    if (!es->in_pes)
        return;
    if (es->hdr_state == HDR_COLLECT) {
        while (len > 0 && es->hdr_got < es->hdr_need) {
            if (es->hdr_got < sizeof es->hdr)
                es->hdr[es->hdr_got] = *data;
            es->hdr_got++;
            data++;
            len--;
            if (es->hdr_got == 9) {
                const uint8_t *h = es->hdr;
                if (h[0] != 0 || h[1] != 0 || h[2] != 1 || (h[6] & 0xC0) != 0x80) {
                    es->hdr_state = HDR_BAD;
                    return;
                }
                es->hdr_need = 9 + (size_t)h[8];
            }
        }
        if (es->hdr_got < es->hdr_need)
            return;
        es_header_done(s, es);
    }
    if (es->hdr_state != HDR_DONE || len == 0)
        return;
    if (is_video(es)) {
        nal_scan_feed(&es->nal, data, len);
    } else if (es->alen < AUDIO_PES_MAX) {
        size_t take = AUDIO_PES_MAX - es->alen < len ? AUDIO_PES_MAX - es->alen : len;
        memcpy(es->abuf + es->alen, data, take);
        es->alen += take;
    }
}

/* The PES of es is complete (next unit start, or end of input). */
static void es_end(hs_segmenter *s, es_state *es)
{
    if (!es->in_pes)
        return;
    es->in_pes = 0;
    if (is_video(es) || es->hdr_state != HDR_DONE)
        return;
    audio_params p;
    memset(&p, 0, sizeof p);
    uint64_t d = 0;
    if (es->kind == K_ADTS)
        d = adts_walk(es->abuf, es->alen, &p);
    else if (es->kind == K_MPA)
        d = mpa_walk(es->abuf, es->alen, &p);
    if (p.codec[0]) {
        /* ADTS can only say "LC" for HE-AAC (SBR/PS are signalled implicitly); trust
         * the PMT's profile-and-level descriptor when it says more. */
        if (es->kind == K_ADTS && s->aac_hint)
            snprintf(p.codec, sizeof p.codec, "mp4a.40.%u", s->aac_hint);
        s->aparams = p;
        s->have_aparams = 1;
    }
    if (es != s->timing || !es->has_pts)
        return;
    if (d == 0 || d > 10u * TICKS)
        d = (uint64_t)s->audio_step;
    s->frame_ticks = (int64_t)d;
    if (s->seg_has_first) {
        int64_t rel = ts_diff(es->pts, s->seg_first) + (int64_t)d;
        if (rel > s->seg_end_rel)
            s->seg_end_rel = rel;
    }
}

static int es_ready(const es_state *es)
{
    if (es->hdr_state == HDR_BAD)
        return 1;
    return es->hdr_state == HDR_DONE && (!is_video(es) || es->nal.done);
}

/* ---- PSI ---------------------------------------------------------------- */

static void on_pat(void *ctx, const uint8_t *sec, size_t len)
{
    hs_segmenter *s = ctx;
    if (len < 16 || sec[0] != 0x00 || !(sec[1] & 0x80) || !(sec[5] & 0x01) ||
        crc32_mpeg(sec, len) != 0)
        return;
    unsigned pmt_pid = 0;
    for (size_t i = 8; i + 4 <= len - 4; i += 4) {
        unsigned program = ((unsigned)sec[i] << 8) | sec[i + 1];
        unsigned pid = ((unsigned)(sec[i + 2] & 0x1F) << 8) | sec[i + 3];
        if (program != 0 && pid != PID_PAT && pid != PID_NULL) {
            pmt_pid = pid;
            break;
        }
    }
    if (!pmt_pid)
        return;
    if (len != s->pat_len || memcmp(sec, s->pat, len) != 0) {
        memcpy(s->pat, sec, len);
        s->pat_len = len;
    }
    if (!s->have_pat || pmt_pid != s->pmt_pid) {
        s->pmt_pid = pmt_pid;
        psi_reset(&s->pmt_asm);
    }
    s->have_pat = 1;
}

static enum es_kind kind_of(unsigned stream_type)
{
    switch (stream_type) {
    case 0x1B: return K_H264;
    case 0x24: return K_HEVC;
    case 0x0F: return K_ADTS;
    case 0x03: case 0x04: return K_MPA;
    case 0x11: case 0x81: case 0x87: return K_AUDIO_OTHER;
    default: return K_NONE;
    }
}

/* MPEG-4 audio profile-and-level (ISO/IEC 14496-3) from an MPEG-4_audio_descriptor
 * (0x1C) or a DVB AAC_descriptor (0x7C): 5 for HE-AAC, 29 for HE-AAC v2, else 0. */
static unsigned aac_hint_from(const uint8_t *desc, size_t len)
{
    size_t pos = 0;
    while (pos + 2 <= len) {
        unsigned tag = desc[pos], dlen = desc[pos + 1];
        if (pos + 2 + dlen > len)
            break;
        if ((tag == 0x1C || tag == 0x7C) && dlen >= 1) {
            unsigned pl = desc[pos + 2];
            if (pl >= 0x2C && pl <= 0x2F)
                return 5;
            if (pl >= 0x30 && pl <= 0x33)
                return 29;
        }
        pos += 2 + dlen;
    }
    return 0;
}

static void es_setup(es_state *es, unsigned pid, unsigned stream_type)
{
    enum es_kind kind = kind_of(stream_type);
    if (es->pid == pid && es->kind == kind && es->stream_type == stream_type)
        return;
    uint8_t *abuf = es->abuf;
    memset(es, 0, sizeof *es);
    es->abuf = abuf;
    es->pid = pid;
    es->kind = pid ? kind : K_NONE;
    es->stream_type = stream_type;
    es->last_cc = -1;
}

static void on_pmt(void *ctx, const uint8_t *sec, size_t len)
{
    hs_segmenter *s = ctx;
    if (len < 16 || sec[0] != 0x02 || !(sec[1] & 0x80) || !(sec[5] & 0x01) ||
        crc32_mpeg(sec, len) != 0)
        return;
    if (s->have_pmt && len == s->pmt_len && memcmp(sec, s->pmt, len) == 0)
        return;  /* the usual repetition */
    unsigned vpid = 0, vtype = 0, apid = 0, atype = 0, hint = 0;
    size_t pos = 12 + (((size_t)(sec[10] & 0x0F) << 8) | sec[11]);
    while (pos + 5 <= len - 4) {
        unsigned type = sec[pos];
        unsigned pid = ((unsigned)(sec[pos + 1] & 0x1F) << 8) | sec[pos + 2];
        size_t info = ((size_t)(sec[pos + 3] & 0x0F) << 8) | sec[pos + 4];
        enum es_kind kind = kind_of(type);
        if (pid != PID_PAT && pid != PID_NULL && pid != s->pmt_pid) {
            if ((kind == K_H264 || kind == K_HEVC) && !vpid) {
                vpid = pid;
                vtype = type;
            } else if ((kind == K_ADTS || kind == K_MPA || kind == K_AUDIO_OTHER) && !apid &&
                       pid != vpid) {
                apid = pid;
                atype = type;
                if (pos + 5 + info <= len - 4)
                    hint = aac_hint_from(sec + pos + 5, info);
            }
        }
        pos += 5 + info;
    }
    if (s->pending)
        resolve_pending(s);  /* the held packets were muxed under the old table */
    memcpy(s->pmt, sec, len);
    s->pmt_len = len;
    es_setup(&s->video, vpid, vtype);
    es_setup(&s->audio, apid, atype);
    s->aac_hint = hint;  /* applied from the next audio PES on */
    s->timing = s->video.pid ? &s->video : (s->audio.pid ? &s->audio : NULL);
    if (!s->have_pmt)
        log_msg(s, "program: video pid %u (type 0x%02x), audio pid %u (type 0x%02x)", vpid,
                vtype, apid, atype);
    s->have_pmt = 1;
}

/* ---- packets ------------------------------------------------------------ */

static void process_packet(hs_segmenter *s, const uint8_t *pkt)
{
    s->packets++;
    if (pkt[1] & 0x80) {  /* transport_error_indicator */
        s->corrupt++;
        return;
    }
    unsigned pid = ts_pid(pkt);
    unsigned afc = (pkt[3] >> 4) & 3;
    if (afc == 0) {
        s->corrupt++;
        return;
    }
    size_t off = 4;
    if (afc & 2) {
        off = 5 + (size_t)pkt[4];
        if (off > TS_PACKET || (afc == 3 && off == TS_PACKET)) {
            s->corrupt++;
            return;
        }
    }
    if (pid == PID_NULL)
        return;  /* stuffing: nothing a segment needs */
    const uint8_t *pl = pkt + off;
    size_t pl_len = (afc & 1) ? TS_PACKET - off : 0;
    int pusi = (pkt[1] & 0x40) != 0;

    int was_ready = s->have_pmt;
    if (pid == PID_PAT)
        psi_feed(&s->pat_asm, pl, pl_len, pusi, on_pat, s);
    else if (s->have_pat && pid == s->pmt_pid)
        psi_feed(&s->pmt_asm, pl, pl_len, pusi, on_pmt, s);
    if (!was_ready) {
        if (pid != PID_PAT && pid != s->pmt_pid)
            s->before_pmt++;  /* dropped: no segment can carry it without its tables */
        return;
    }

    es_state *es = NULL;
    if (s->video.pid && pid == s->video.pid)
        es = &s->video;
    else if (s->audio.pid && pid == s->audio.pid)
        es = &s->audio;
    if (es && pl_len) {
        int cc = pkt[3] & 0x0F;
        int dup = (cc == es->last_cc);
        if (es->last_cc >= 0 && !dup && cc != ((es->last_cc + 1) & 0x0F))
            s->cc_errors++;
        es->last_cc = cc;
        if (dup)
            es = NULL;  /* a repeated packet: pass it on, but parse it once */
    }

    if (es && pusi && pl_len) {
        if (es == s->timing) {
            if (s->pending)
                resolve_pending(s);
            es_end(s, es);
            es_start(es);
            es_payload(s, es, pl, pl_len);
            if (es_ready(es)) {
                s->pending = 0;
                s->pend_len = 0;
                resolve_pending(s);
                out_packet(s, pkt, 1);
            } else {
                s->pending = 1;
                s->pend_len = 0;
                if (pend_push(s, pkt) < 0)
                    resolve_pending(s), out_packet(s, pkt, 1);
            }
            return;
        }
        es_end(s, es);
        es_start(es);
    }
    /* Most video packets come after the first slice NAL unit: nothing left to parse. */
    if (es && pl_len && !(es->hdr_state == HDR_DONE && is_video(es) && es->nal.done))
        es_payload(s, es, pl, pl_len);
    if (s->pending) {
        if (pend_push(s, pkt) < 0) {
            resolve_pending(s);
            out_packet(s, pkt, 1);
        } else if ((es && es == s->timing && es_ready(es)) || s->pend_len >= PENDING_MAX) {
            resolve_pending(s);
        }
        return;
    }
    out_packet(s, pkt, 1);
}

/* ---- public ------------------------------------------------------------- */

hs_segmenter *hs_create(const hs_config *cfg)
{
    hs_segmenter *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->cfg = *cfg;
    s->dur_ticks = cfg->duration * TICKS;
    s->max_ticks = cfg->max_duration * TICKS;
    s->seq = cfg->start_seq;
    s->video.last_cc = s->audio.last_cc = -1;
    s->video.abuf = malloc(AUDIO_PES_MAX);
    s->audio.abuf = malloc(AUDIO_PES_MAX);
    if (!s->video.abuf || !s->audio.abuf || writer_init(&s->w, cfg->dir, cfg->prefix) < 0) {
        hs_destroy(s);
        return NULL;
    }
    return s;
}

void hs_destroy(hs_segmenter *s)
{
    if (!s)
        return;
    writer_free(&s->w);
    free(s->video.abuf);
    free(s->audio.abuf);
    free(s->pend);
    free(s);
}

int hs_failed(const hs_segmenter *s) { return s->failed; }

size_t hs_feed(hs_segmenter *s, const uint8_t *buf, size_t len, int eof)
{
    size_t pos = 0;
    while (len - pos >= TS_PACKET && !s->failed && !s->w.failed) {
        if (buf[pos] == TS_SYNC) {
            if (s->synced) {
                process_packet(s, buf + pos);
                pos += TS_PACKET;
                continue;
            }
            /* Out of sync: believe a sync byte only when the next two packets agree. */
            int ok = 1, wait = 0;
            for (size_t k = 1; k <= 2 && ok && !wait; k++) {
                size_t at = pos + k * TS_PACKET;
                if (at < len)
                    ok = (buf[at] == TS_SYNC);
                else if (!eof)
                    wait = 1;  /* need more data to judge */
            }
            if (wait)
                break;
            if (ok) {
                if (s->offset + pos > 0 && s->resyncs < 20)
                    log_msg(s, "packet sync found at input byte %llu",
                            (unsigned long long)(s->offset + pos));
                s->synced = 1;
                s->resyncs++;
                process_packet(s, buf + pos);
                pos += TS_PACKET;
                continue;
            }
        }
        if (s->synced) {
            s->synced = 0;
            if (s->resyncs < 20)
                log_msg(s, "lost packet sync at input byte %llu",
                        (unsigned long long)(s->offset + pos));
        }
        const uint8_t *next = memchr(buf + pos + 1, TS_SYNC, len - pos - 1);
        size_t np = next ? (size_t)(next - buf) : len;
        s->skipped_bytes += np - pos;
        pos = np;
    }
    /* The writer references packets in buf: they must be out before buf changes. */
    if (s->seg_open && !s->failed && writer_flush(&s->w) < 0)
        io_fail(s);
    if (s->w.failed)
        io_fail(s);
    if (eof && pos < len) {
        s->truncated += len - pos;
        pos = len;
    }
    s->offset += pos;
    return pos;
}

int hs_finish(hs_segmenter *s)
{
    if (s->pending)
        resolve_pending(s);
    es_end(s, &s->video);
    es_end(s, &s->audio);
    if (s->seg_open)
        finish_segment(s, segment_end(s));
    char line[256];
    size_t len = event_end(line, sizeof line, s->segments, s->total_ticks);
    emit(s, line, len);
    log_msg(s,
            "end of input: %llu packets, %llu segments; skipped %llu bytes out of sync, "
            "%llu corrupt packets, %llu continuity errors, %llu packets before PAT/PMT, "
            "%llu truncated bytes at the end, %llu timestamp breaks, %llu cuts without keyframe",
            (unsigned long long)s->packets, (unsigned long long)s->segments,
            (unsigned long long)s->skipped_bytes, (unsigned long long)s->corrupt,
            (unsigned long long)s->cc_errors, (unsigned long long)s->before_pmt,
            (unsigned long long)s->truncated, (unsigned long long)s->jumps,
            (unsigned long long)s->forced_cuts);
    return s->failed ? -1 : 0;
}
