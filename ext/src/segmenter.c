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

#include "clock.h"
#include "codec.h"
#include "events.h"
#include "mp4.h"
#include "nal.h"
#include "remux.h"
#include "sizes.h"
#include "ts.h"
#include "writer.h"

#define LOG_RESYNCS_MAX 20              /* sync messages on stderr before going quiet */

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
    size_t aused;               /* fMP4: bytes of abuf already taken as frames */
} es_state;

/* Cuts follow a fixed grid (origin + k x duration), not "duration after the last
 * cut": late keyframes or audio PES boundaries then never accumulate into drift. */
typedef struct {
    double dur_ticks, max_ticks;
    int set;
    int64_t origin;
    double next_boundary;       /* ticks after origin */
    int numbered;               /* segments are numbered by cell (--grid-origin, --locked) */
    uint64_t origin_seq;        /* the number of the cell starting at origin */
    size_t next_cut;            /* the first of cfg.cuts not passed yet */
    int64_t live_cuts[HS_LIVE_CUTS_MAX];  /* hs_add_cut's points (PTS), in media order */
    size_t nlive;
} cut_grid;

/* The program's PAT and PMT as last seen; every segment starts with them. */
typedef struct {
    psi_assembler pat_asm, pmt_asm;
    int have_pat, have_pmt;
    unsigned pmt_pid;
    size_t pat_len, pmt_len;
    uint8_t pat[PSI_SECTION_MAX], pmt[PSI_SECTION_MAX];
    uint8_t cc_pat, cc_pmt;     /* our counters: tables are inserted into segments */
} program_tables;

/* What the stream event reports: codec parameters and the average frame rate. */
typedef struct {
    video_params video;
    audio_params audio;
    int have_video, have_audio;
    int captions;               /* CEA-608/708 seen in the video's SEI (ATSC A/53) */
    size_t last_sps_len;
    uint8_t last_sps[NAL_SPS_MAX];
    unsigned aac_hint;          /* object type signalled in the PMT (5: SBR, 29: PS), or 0 */
    uint64_t rate_frames;       /* video access units since rate_first_dts */
    int64_t rate_first_dts, rate_span;
    double last_fps;
    char announced[512];        /* the last stream event, to report only changes */
} stream_params;

/* Frame timing of the timing stream, for cut decisions and end durations. */
typedef struct {
    int64_t frame_ticks;        /* video: smallest DTS step; audio: last PES duration */
    int64_t audio_step;         /* audio PES PTS step, when frames cannot be walked */
    int have_offset;
    int64_t min_offset, max_offset; /* video PTS - DTS range: how far B-frames reorder */
} frame_timing;

/* Packets held from a timing-stream unit start until decide() has run. */
typedef struct {
    int active;
    uint8_t *buf;
    size_t len, cap;
} held_packets;

/* The segment being written. Times are relative to its first timing-stream PTS. */
typedef struct {
    uint64_t seq;               /* its number (the next one's once it is reported) */
    int open, has_first, keyframe, disc;
    int64_t first, max_rel, end_rel;
    size_t keyframes;           /* where its keyframes are, for I-frame playlists */
    keyframe_range keyframe_at[HS_KEYFRAMES_MAX];
    uint64_t psi;               /* TS: bytes of the tables it starts with */
    int kf_next;                /* TS: the next video PES to pass is a keyframe's */
    int64_t kf_pts;
    int kf_open;                /* TS: its packets are still passing (keyframe_at[keyframes]) */
} current_segment;

/* LL-HLS parts: every fragment of the open segment also goes to a file of its own. */
typedef struct {
    double max_ticks;           /* the longest part, 90 kHz; 0: no parts */
    unsigned index;             /* of the next part in the open segment */
    int have_first;
    int64_t first_dts;          /* the first timing access unit of the part in progress */
    int closing;                /* the part in progress ends the segment (it is the last) */
    seg_writer w;
} part_output;

/* fMP4 output: the remuxer and the init segment the open segment refers to. */
typedef struct {
    int on;
    byte_buf styp;              /* every segment (and its first part) starts with it */
    part_output parts;
    remux mx;
    byte_buf init, next_init;   /* the last init written; the one being built */
    int have_init;
    char init_path[HS_PATH_MAX];
    int seg_has_init;           /* the open segment's init is written and announced */
} fmp4_output;

/* What was wrong with the input. Events report it as "corrupt" packets: see
 * take_corrupt(). */
typedef struct {
    uint64_t packets, skipped_bytes, resyncs, corrupt, cc_errors, before_pmt, truncated,
        forced_cuts, jumps;
    uint64_t mark_bytes, mark_packets; /* skipped bytes, bad packets at the last event */
    uint64_t reported;                 /* corrupt packets reported in segment events */
} input_counters;

struct hs_segmenter {
    hs_config cfg;
    int synced;
    uint64_t offset;            /* input bytes consumed */
    cut_grid grid;
    program_tables psi;
    es_state video, audio;
    es_state *timing;           /* video if any, else audio */
    stream_params params;
    frame_timing frames;
    held_packets held;
    current_segment seg;
    fmp4_output fmp4;
    seg_writer w;
    input_counters bad;
    uint64_t segments;
    int64_t total_ticks;
    int failed;
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

static int is_video(const es_state *es) { return es->kind == K_H264 || es->kind == K_HEVC; }

static void io_fail(hs_segmenter *s)
{
    if (!s->failed)
        log_msg(s, "I/O error: %s", s->w.error[0] ? s->w.error : "unknown");
    s->failed = 1;
}

/* TS packets lost to the input's faults since the last segment event: bytes skipped
 * out of sync count as whole packets (a partial one too), plus packets flagged or
 * malformed, plus continuity gaps. */
static uint64_t corrupt_since(const input_counters *c)
{
    uint64_t bytes = c->skipped_bytes + c->truncated - c->mark_bytes;
    uint64_t packets = c->corrupt + c->cc_errors - c->mark_packets;
    return (bytes + TS_PACKET - 1) / TS_PACKET + packets;
}

/* The count for a segment event; the next one counts from here. */
static uint64_t take_corrupt(input_counters *c)
{
    uint64_t n = corrupt_since(c);
    c->mark_bytes = c->skipped_bytes + c->truncated;
    c->mark_packets = c->corrupt + c->cc_errors;
    c->reported += n;
    return n;
}

/* ---- segments ---------------------------------------------------------- */

static void put_table(hs_segmenter *s, const uint8_t *sec, size_t len, unsigned pid, uint8_t *cc)
{
    uint8_t pk[PSI_PACKETS_MAX * TS_PACKET];
    size_t n = psi_packetize(sec, len, pid, cc, pk);
    memcpy(writer_reserve(&s->w, n * TS_PACKET), pk, n * TS_PACKET);  /* n <= 6: fits */
}

/* fMP4 segments start with a styp; the configurations waiting for a new segment
 * take effect. */
static void open_fmp4_segment(hs_segmenter *s)
{
    const byte_buf *styp = &s->fmp4.styp;
    memcpy(writer_reserve(&s->w, styp->len), styp->p, styp->len);
    s->fmp4.seg_has_init = 0;
    s->fmp4.parts.index = 0;
    s->fmp4.parts.have_first = 0;
    remux_commit(&s->fmp4.mx);
}

static void open_segment(hs_segmenter *s)
{
    if (writer_open(&s->w, s->seg.seq) < 0)
        io_fail(s);
    current_segment *seg = &s->seg;
    seg->open = 1;
    seg->has_first = 0;
    seg->keyframe = 0;
    seg->disc = 0;
    seg->first = seg->max_rel = seg->end_rel = 0;
    seg->keyframes = 0;
    seg->kf_open = 0;
    if (s->fmp4.on) {
        open_fmp4_segment(s);
        return;
    }
    put_table(s, s->psi.pat, s->psi.pat_len, PID_PAT, &s->psi.cc_pat);
    put_table(s, s->psi.pmt, s->psi.pmt_len, s->psi.pmt_pid, &s->psi.cc_pmt);
    seg->psi = s->w.bytes;
}

static int64_t segment_end(const hs_segmenter *s)
{
    const current_segment *seg = &s->seg;
    if (!seg->has_first)
        return 0;
    if (s->timing && is_video(s->timing))
        return seg->max_rel + s->frames.frame_ticks;
    return seg->end_rel > seg->max_rel ? seg->end_rel : seg->max_rel;
}

/* Average video frame rate so far, snapped to the usual rates (59.94 has steps of
 * 1501 and 1502 ticks, so a single step cannot tell it); 0 when unknown. */
static double frame_rate(stream_params *p)
{
    static const double usual[] = {24000.0 / 1001, 24, 25, 30000.0 / 1001, 30, 48, 50,
                                   60000.0 / 1001, 60, 100, 120000.0 / 1001, 120};
    if (p->rate_frames < 2 || p->rate_span <= 0)
        return p->last_fps;  /* just after a timestamp break: keep what we knew */
    double fps = 90000.0 * (double)(p->rate_frames - 1) / (double)p->rate_span;
    for (size_t i = 0; i < sizeof usual / sizeof usual[0]; i++) {
        if (fps > usual[i] * 0.9998 && fps < usual[i] * 1.0002) {  /* 29.97 vs 30: 0.1% */
            fps = usual[i];
            break;
        }
    }
    p->last_fps = fps;
    return fps;
}

static void announce_stream(hs_segmenter *s)
{
    stream_params *p = &s->params;
    char line[sizeof p->announced];
    size_t len = event_stream(line, sizeof line,
                              s->video.pid ? &p->video : NULL, s->video.kind == K_HEVC,
                              p->have_video, frame_rate(p),
                              s->audio.pid ? &p->audio : NULL, s->audio.stream_type,
                              p->have_audio, p->captions);
    if (strcmp(line, p->announced) != 0) {
        memcpy(p->announced, line, len + 1);
        emit(s, line, len);
    }
}

static void report_segment(hs_segmenter *s, int64_t dur)
{
    segment_report r = {
        .seq = s->seg.seq,
        .file = s->w.final_path,
        .dur_ticks = dur,
        .pts = s->seg.first,
        .bytes = s->w.bytes,
        .keyframe = s->seg.keyframe,
        .discontinuity = s->seg.disc,
        .corrupt = take_corrupt(&s->bad),
        .init = s->fmp4.on ? s->fmp4.init_path : NULL,
        .psi = s->fmp4.on ? 0 : s->seg.psi,
        .video = s->video.pid != 0,
        .keyframes = s->seg.keyframe_at,
        .nkeyframes = s->seg.keyframes,
    };
    char line[HS_EVENT_MAX];
    size_t len = event_segment(line, sizeof line, &r);
    emit(s, line, len);
}

/* The init segment for the configurations in use. Its name is its content's hash,
 * so a name is never reused with other bytes; it is written (and announced) only
 * when it differs from the last one. */
static void settle_init(hs_segmenter *s)
{
    fmp4_output *f = &s->fmp4;
    byte_buf *b = &f->next_init;
    bb_clear(b);
    remux_init_segment(&f->mx, b);
    f->seg_has_init = 1;
    if (b->failed) {
        log_msg(s, "out of memory building the init segment");
        s->failed = 1;
        return;
    }
    if (f->have_init && b->len == f->init.len && memcmp(b->p, f->init.p, b->len) == 0)
        return;
    uint32_t hash = crc32_mpeg(b->p, b->len);
    if (s->cfg.dir)
        snprintf(f->init_path, sizeof f->init_path, "%s/%s-init-%08x.mp4", s->cfg.dir,
                 s->cfg.prefix, (unsigned)hash);
    else
        snprintf(f->init_path, sizeof f->init_path, "%s-init-%08x.mp4", s->cfg.prefix,
                 (unsigned)hash);
    char err[HS_PATH_MAX + 200];
    if (s->cfg.dir && write_file_atomic(f->init_path, b->p, b->len, err, sizeof err) < 0) {
        if (!s->failed)
            log_msg(s, "I/O error: %s", err);
        s->failed = 1;
        return;
    }
    byte_buf swap = f->init;
    f->init = *b;
    *b = swap;
    f->have_init = 1;
    char line[HS_EVENT_MAX];
    size_t len = event_init(line, sizeof line, f->init_path, f->init.len);
    emit(s, line, len);
}

/* The file of the next part, or NULL without parts. The first part starts with the
 * segment's styp, so the segment is exactly its parts one after the other. */
static seg_writer *open_part(hs_segmenter *s)
{
    part_output *p = &s->fmp4.parts;
    if (p->max_ticks <= 0)
        return NULL;
    if (writer_open_part(&p->w, s->seg.seq, p->index) < 0) {
        if (!s->failed)
            log_msg(s, "I/O error: %s", p->w.error);
        s->failed = 1;
        return NULL;
    }
    if (p->index == 0) {
        const byte_buf *styp = &s->fmp4.styp;
        memcpy(writer_reserve(&p->w, styp->len), styp->p, styp->len);
    }
    return &p->w;
}

/* The part is complete: renamed into place and announced at once. */
static void finish_part(hs_segmenter *s, const fragment_info *info)
{
    part_output *p = &s->fmp4.parts;
    if (info->bytes == 0) {
        writer_abort(&p->w);
        return;
    }
    if (writer_close(&p->w) < 0) {
        if (!s->failed)
            log_msg(s, "I/O error: %s", p->w.error);
        s->failed = 1;
        return;
    }
    /* Audio samples are all sync samples: an audio-only part always stands alone. */
    int independent = info->keyframe || s->fmp4.mx.video.id == 0;
    char line[HS_EVENT_MAX];
    size_t len = event_part(line, sizeof line, s->seg.seq, p->index, p->w.final_path,
                            info->ticks, p->w.bytes, independent, p->closing);
    emit(s, line, len);
    p->index++;
}

/* fMP4: the samples waiting in the remuxer become fragments of the open segment.
 * next_dts: the DTS of the video access unit after them, when have_next. */
static void flush_fragment(hs_segmenter *s, int have_next, int64_t next_dts)
{
    fmp4_output *f = &s->fmp4;
    if (!remux_has_samples(&f->mx) || s->failed)
        return;
    if (!f->seg_has_init)
        settle_init(s);
    fragment_info info;
    current_segment *seg = &s->seg;
    seg_writer *part = open_part(s);
    remux_write(&f->mx, &s->w, part, have_next, next_dts, &info);
    if (info.keyframe && seg->keyframes < HS_KEYFRAMES_MAX)
        seg->keyframe_at[seg->keyframes++] = info.kf;
    if (part)
        finish_part(s, &info);
    f->parts.have_first = 0;
    if (s->w.failed)
        io_fail(s);
}

/* Nothing in it to play: the segment's file goes, and its number is used again. */
static void drop_segment(hs_segmenter *s, const char *why)
{
    log_msg(s, "dropping %llu bytes %s", (unsigned long long)s->w.bytes, why);
    writer_abort(&s->w);
    if (s->fmp4.on)
        remux_discard(&s->fmp4.mx);
}

/* TS: the keyframe whose packets were passing is complete. */
static void close_keyframe(current_segment *seg)
{
    if (seg->kf_open) {
        seg->kf_open = 0;
        seg->keyframes++;
    }
}

static void finish_segment(hs_segmenter *s, int64_t dur)
{
    if (!s->seg.open)
        return;
    s->seg.open = 0;
    close_keyframe(&s->seg);
    if (!s->seg.has_first) {
        /* Not one timestamp of the timing stream: nothing a playlist could time. */
        drop_segment(s, !s->timing ? "without a video or audio timestamp"
                        : (is_video(s->timing) ? "without a video timestamp"
                                               : "without an audio timestamp"));
        return;
    }
    if (s->fmp4.on) {
        /* The part flushed now is the segment's last: its event says so, so a server
         * hints part 0 of the next segment rather than one that will never exist. */
        s->fmp4.parts.closing = 1;
        flush_fragment(s, 0, 0);
        s->fmp4.parts.closing = 0;
        if (!s->fmp4.seg_has_init) {
            drop_segment(s, "without a sample that fMP4 can carry");
            return;
        }
    }
    if (writer_close(&s->w) < 0) {
        io_fail(s);
        return;
    }
    if (dur < 0)
        dur = 0;
    announce_stream(s);
    report_segment(s, dur);
    s->segments++;
    s->total_ticks += dur;
    s->seg.seq++;
}

static void start_timing(hs_segmenter *s, int64_t pts, int rap)
{
    current_segment *seg = &s->seg;
    seg->has_first = 1;
    seg->first = pts;
    seg->keyframe = rap;
    seg->max_rel = 0;
    seg->end_rel = 0;
}

/* TS: a keyframe's byte range runs from the first packet of its PES to the last
 * packet of its PID before the next PES starts (whole packets, other PIDs' packets in
 * between included). Called before pkt, a video packet, is written. */
static void track_keyframe(hs_segmenter *s, const uint8_t *pkt)
{
    current_segment *seg = &s->seg;
    if (pkt[1] & 0x40) {
        close_keyframe(seg);
        if (seg->kf_next && seg->keyframes < HS_KEYFRAMES_MAX) {
            keyframe_range *k = &seg->keyframe_at[seg->keyframes];
            k->offset = s->w.bytes;
            k->pts = seg->kf_pts;
            seg->kf_open = 1;
        }
        seg->kf_next = 0;
    }
    if (seg->kf_open) {
        keyframe_range *k = &seg->keyframe_at[seg->keyframes];
        k->size = s->w.bytes + TS_PACKET - k->offset;
    }
}

/* stable: pkt lies in the caller's input buffer, valid until hs_feed returns, so the
 * writer may reference it instead of copying it. */
static void out_packet(hs_segmenter *s, const uint8_t *pkt, int stable)
{
    if (!s->seg.open)
        open_segment(s);
    if (s->fmp4.on)
        return;  /* the payload went to the remuxer as it was parsed */
    unsigned pid = ts_pid(pkt);
    if (pid == s->video.pid && s->video.pid)
        track_keyframe(s, pkt);
    if ((pid == PID_PAT || pid == s->psi.pmt_pid) && (pkt[3] & 0x10)) {
        /* Our inserted tables took counter values: renumber the stream's own ones. */
        uint8_t *d = writer_reserve(&s->w, TS_PACKET);
        memcpy(d, pkt, TS_PACKET);
        uint8_t *cc = (pid == PID_PAT) ? &s->psi.cc_pat : &s->psi.cc_pmt;
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
    cut_grid *g = &s->grid;
    g->set = 1;
    g->origin = (int64_t)((uint64_t)origin & PTS_MASK);
    double at = (double)ts_diff(pts, g->origin) + (double)s->frames.frame_ticks / 2.0;
    g->next_boundary = (floor(at / g->dur_ticks) + 1.0) * g->dur_ticks;
}

/* With --grid-origin, a segment is numbered by its grid cell (--grid-seq = the cell at
 * the origin): a rung that starts late, on the same clock as the others, then gets
 * the same numbers as they do. Numbers never go back: a cell behind the next number
 * (another clock, a cut without keyframe) keeps counting on from it. */
static void number_by_grid(hs_segmenter *s, int64_t pts)
{
    if (!s->grid.numbered)
        return;
    double at = (double)ts_diff(pts, s->grid.origin) + (double)s->frames.frame_ticks / 2.0;
    double cell = floor(at / s->grid.dur_ticks);
    if (cell < 0 || cell > 1e12)
        return;
    uint64_t seq = s->grid.origin_seq + (uint64_t)cell;
    if (seq > s->seg.seq) {
        s->seg.seq = seq;
        writer_renumber(&s->w, seq);
    }
}

#define WRAP_TICKS (1LL << 33)

/* --locked: the cell of pts on the input's clock unwrapped onto the wall clock's epoch,
 * U = pts + n x 2^33 with n the whole number of 26.5 h wraps nearest to (wall - pts).
 * Every host fed the same source gets the same n (their clocks would have to disagree
 * by 13 h otherwise), so the same cells: the same boundaries and numbers, whenever it
 * started. U runs on through the PTS wrap, and so do the grid and the numbers. The
 * origin is that cell's boundary as a PTS, so distances stay short. */
static void lock_grid(hs_segmenter *s, int64_t pts)
{
    cut_grid *g = &s->grid;
    double wall = s->cfg.wall_clock ? s->cfg.wall_clock(s->cfg.ctx) * TICKS : 0.0;
    double n = floor((wall - (double)pts) / (double)WRAP_TICKS + 0.5);
    if (n < 0)
        n = 0;
    int64_t epoch = (int64_t)n * WRAP_TICKS;
    double cell = floor(((double)(pts + epoch) + (double)s->frames.frame_ticks / 2.0) /
                        g->dur_ticks);
    int64_t boundary = llround(cell * g->dur_ticks);
    g->numbered = 1;
    g->origin_seq = (uint64_t)cell;
    set_grid(s, boundary - epoch, pts);
    number_by_grid(s, pts);
}

/* --locked, after a cut on the grid: the origin moves to the new segment's cell, so it
 * never drifts 13 h (half the PTS circle) behind the input. */
static void advance_lock(hs_segmenter *s, int64_t pts)
{
    cut_grid *g = &s->grid;
    double at = (double)ts_diff(pts, g->origin) + (double)s->frames.frame_ticks / 2.0;
    double cells = floor(at / g->dur_ticks);
    if (cells < 1)
        return;
    g->origin = (int64_t)((uint64_t)(g->origin + llround(cells * g->dur_ticks)) & PTS_MASK);
    g->origin_seq += (uint64_t)cells;
}

/* Forgets the live cut points at or before pts (half a frame early counts as on it). */
static void pass_live_cuts(hs_segmenter *s, int64_t pts)
{
    cut_grid *g = &s->grid;
    size_t passed = 0;
    while (passed < g->nlive &&
           (double)ts_diff(pts, g->live_cuts[passed]) >= -(double)s->frames.frame_ticks / 2.0)
        passed++;
    memmove(g->live_cuts, g->live_cuts + passed, (g->nlive - passed) * sizeof *g->live_cuts);
    g->nlive -= passed;
}

/* Passes the extra cut points at or before pts (half a frame early counts as on it). */
static void pass_cuts(hs_segmenter *s, int64_t pts)
{
    double at = (double)ts_diff(pts, s->grid.origin) + (double)s->frames.frame_ticks / 2.0;
    while (s->grid.next_cut < s->cfg.ncuts && s->cfg.cuts[s->grid.next_cut] * TICKS <= at)
        s->grid.next_cut++;
    pass_live_cuts(s, pts);
}

/* The first timing-stream access unit of the input starts the first segment and,
 * without --grid-origin, the grid. */
static void start_first_segment(hs_segmenter *s, int64_t pts, int rap)
{
    start_timing(s, pts, rap);
    if (s->cfg.locked) {
        lock_grid(s, pts);
        return;
    }
    if (!s->grid.set)
        set_grid(s, s->cfg.grid_origin >= 0 ? s->cfg.grid_origin : pts, pts);
    number_by_grid(s, pts);
    pass_cuts(s, pts);
}

/* CUT_CONFIG: fMP4 codec parameters changed, so the next segment needs a new init
 * (and, like a timestamp break, is marked as a discontinuity). */
enum cut_kind { CUT_NONE, CUT_GRID, CUT_FORCED, CUT_BREAK, CUT_CONFIG };

/* Whether to cut before an access unit at pts, e ticks into the segment. */
static enum cut_kind cut_needed(const hs_segmenter *s, const es_state *es, int64_t e, int rap)
{
    if (es->jump)
        return CUT_BREAK;
    double half_frame = (double)s->frames.frame_ticks / 2.0;
    int64_t g = ts_diff(es->pts, s->grid.origin);
    if (e > 0 && rap && (double)g >= s->grid.next_boundary - half_frame)
        return CUT_GRID;
    if (e > 0 && rap && s->grid.next_cut < s->cfg.ncuts &&
        (double)g >= s->cfg.cuts[s->grid.next_cut] * TICKS - half_frame)
        return CUT_GRID;  /* an extra cut point: the grid's next boundary stays */
    if (e > 0 && rap && s->grid.nlive &&
        (double)ts_diff(es->pts, s->grid.live_cuts[0]) >= -half_frame)
        return CUT_GRID;  /* a live one (hs_add_cut) likewise */
    /* Cutting here gives a segment of e. The next access unit in decode order may
     * present up to the reorder distance later, so stop while e is still in range. */
    const frame_timing *f = &s->frames;
    if (e > 0 && s->grid.max_ticks > 0 &&
        (double)(e + f->frame_ticks + (f->max_offset - f->min_offset)) > s->grid.max_ticks)
        return rap ? CUT_GRID : CUT_FORCED;
    return CUT_NONE;
}

static void cut(hs_segmenter *s, const es_state *es, enum cut_kind kind, int64_t e, int rap)
{
    int64_t pts = es->pts;
    finish_segment(s, kind == CUT_BREAK ? segment_end(s) : e);
    if (kind == CUT_FORCED) {
        s->bad.forced_cuts++;
        log_msg(s, "segment %llu cut without a keyframe after %.3f s (--max-duration)",
                (unsigned long long)(s->seg.seq - 1), (double)e / TICKS);
    }
    if (kind == CUT_CONFIG)
        log_msg(s, "new codec parameters: segment %llu starts a discontinuity with a new init",
                (unsigned long long)s->seg.seq);
    if (kind == CUT_BREAK)
        log_msg(s, "timestamp break (%.3f s -> %.3f s): segment %llu starts a discontinuity",
                (double)((uint64_t)(s->seg.first + s->seg.max_rel) & PTS_MASK) / TICKS,
                (double)pts / TICKS, (unsigned long long)s->seg.seq);
    open_segment(s);
    start_timing(s, pts, rap);
    if (s->cfg.locked && kind == CUT_BREAK) {
        lock_grid(s, pts);  /* another clock: its own cells, numbers still going up */
    } else {
        if (s->cfg.locked)
            advance_lock(s, pts);
        /* After a timestamp break the old grid means nothing: start one at the break. */
        set_grid(s, kind == CUT_BREAK ? pts : s->grid.origin, pts);
        if (kind != CUT_BREAK)
            number_by_grid(s, pts);
    }
    if (kind == CUT_BREAK)
        s->grid.next_cut = s->cfg.ncuts;  /* times on the old clock mean nothing now */
    else
        pass_cuts(s, pts);
    s->seg.disc = (kind == CUT_BREAK || kind == CUT_CONFIG);
}

/* fMP4: the parameter sets in front of this access unit; 1 when they (or audio
 * frames seen before) need a new init, hence a new segment. */
static int config_changed(hs_segmenter *s, es_state *es)
{
    remux *mx = &s->fmp4.mx;
    if (is_video(es))
        remux_video_params(mx, &es->nal);
    remux_apply_free(mx);
    return remux_needs_cut(mx);
}

/* LL-HLS: whether the part in progress would grow past its limit with this access
 * unit (its DTS plus a frame), so it must end before it. */
static int part_due(const hs_segmenter *s, const es_state *es)
{
    const part_output *p = &s->fmp4.parts;
    return p->max_ticks > 0 && p->have_first &&
           (double)(ts_diff(es->dts, p->first_dts) + s->frames.frame_ticks) > p->max_ticks;
}

static void note_part_start(hs_segmenter *s, const es_state *es)
{
    part_output *p = &s->fmp4.parts;
    if (p->max_ticks > 0 && !p->have_first) {
        p->have_first = 1;
        p->first_dts = es->dts;
    }
}

/* TS: the video PES about to pass is a keyframe's; track_keyframe() finds its bytes. */
static void note_keyframe(hs_segmenter *s, const es_state *es, int rap)
{
    if (s->fmp4.on || !is_video(es))
        return;
    s->seg.kf_next = rap;
    s->seg.kf_pts = es->pts;
}

/* The timing stream's access unit at the head of the held packets is known:
 * cut before it or not. */
static void decide(hs_segmenter *s, es_state *es)
{
    int rap = is_video(es) ? es->nal.rap : 1;
    if (!s->seg.open)
        open_segment(s);
    int changed = s->fmp4.on && config_changed(s, es);
    if (!s->seg.has_first) {
        if (changed)
            remux_commit(&s->fmp4.mx);  /* nothing of this segment is written yet */
        start_first_segment(s, es->pts, rap);
        note_keyframe(s, es, rap);
        note_part_start(s, es);
        return;
    }
    int64_t e = ts_diff(es->pts, s->seg.first);
    enum cut_kind kind = cut_needed(s, es, e, rap);
    if (kind == CUT_NONE && changed && e > 0)
        kind = CUT_CONFIG;
    /* fMP4 fragments end before every keyframe (so each keyframe's byte range starts
     * at a moof) and at every cut. */
    if (s->fmp4.on && (kind != CUT_NONE || (is_video(es) && rap) || part_due(s, es) ||
                       remux_wants_flush(&s->fmp4.mx))) {
        s->fmp4.parts.closing = kind != CUT_NONE;  /* a cut: this part is the last */
        flush_fragment(s, kind != CUT_BREAK, es->dts);
        s->fmp4.parts.closing = 0;
    }
    if (kind != CUT_NONE)
        cut(s, es, kind, e, rap);
    else if (e > s->seg.max_rel)
        s->seg.max_rel = e;
    if (kind != CUT_NONE && changed)
        s->seg.disc = 1;  /* a new init, even when the cut was due anyway */
    note_keyframe(s, es, rap);
    note_part_start(s, es);
}

static void apply_sps(hs_segmenter *s, es_state *es)
{
    const nal_scanner *sc = &es->nal;
    stream_params *p = &s->params;
    if (sc->captions)
        p->captions = 1;  /* sticky: captions may skip frames, the stream still has them */
    const uint8_t *sps = sc->ps[NAL_SPS];
    size_t len = sc->ps_len[NAL_SPS];
    if (len == 0 || (len == p->last_sps_len && memcmp(sps, p->last_sps, len) == 0))
        return;
    memcpy(p->last_sps, sps, len);
    p->last_sps_len = len;
    video_params v;
    int rc = (es->kind == K_H264) ? h264_parse_sps(sps, len, &v) : hevc_parse_sps(sps, len, &v);
    if (rc == 0) {
        p->video = v;
        p->have_video = 1;
    }
}

static void resolve_pending(hs_segmenter *s)
{
    es_state *es = s->timing;
    held_packets *h = &s->held;
    h->active = 0;
    if (es && es->hdr_state == HDR_DONE && es->has_pts)
        decide(s, es);
    if (es && is_video(es))
        apply_sps(s, es);  /* after the cut: new parameters belong to the new segment */
    for (size_t off = 0; off < h->len; off += TS_PACKET)
        out_packet(s, h->buf + off, 0);
    h->len = 0;
}

static int pend_push(hs_segmenter *s, const uint8_t *pkt)
{
    held_packets *h = &s->held;
    if (h->len + TS_PACKET > h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64 * TS_PACKET;
        uint8_t *p = realloc(h->buf, cap);
        if (!p)
            return -1;
        h->buf = p;
        h->cap = cap;
    }
    memcpy(h->buf + h->len, pkt, TS_PACKET);
    h->len += TS_PACKET;
    return 0;
}

/* ---- PES ---------------------------------------------------------------- */

static int64_t read_ts(const uint8_t *p)
{
    return ((int64_t)((p[0] >> 1) & 0x07) << 30) | ((int64_t)p[1] << 22) |
           ((int64_t)(p[2] >> 1) << 15) | ((int64_t)p[3] << 7) | (int64_t)(p[4] >> 1);
}

/* The reorder range (PTS - DTS) of video, for the --max-duration margin. */
static void track_reorder(frame_timing *f, const es_state *es)
{
    int64_t off = ts_diff(es->pts, es->dts);
    if (off < 0 || off >= TICKS)
        return;
    if (!f->have_offset || off < f->min_offset)
        f->min_offset = off;
    if (!f->have_offset || off > f->max_offset)
        f->max_offset = off;
    f->have_offset = 1;
}

/* The DTS step from the previous PES: a break, or the frame duration. */
static void track_step(hs_segmenter *s, es_state *es)
{
    if (!es->has_prev)
        return;
    int64_t d = ts_diff(es->dts, es->prev_t);
    if (d < 0 || d > JUMP_LIMIT) {
        es->jump = 1;
        s->bad.jumps++;
        s->params.rate_frames = 0;
    } else if (d > 0 && d < TICKS) {
        if (!is_video(es))
            s->frames.audio_step = d;
        else if (s->frames.frame_ticks == 0 || d < s->frames.frame_ticks)
            s->frames.frame_ticks = d;
    }
}

static void track_rate(stream_params *p, const es_state *es)
{
    if (p->rate_frames == 0)
        p->rate_first_dts = es->dts;
    p->rate_frames++;
    p->rate_span = ts_diff(es->dts, p->rate_first_dts);
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
    if (s->fmp4.on && !is_video(es))
        remux_audio_pes(&s->fmp4.mx, es->has_pts, es->pts);
    if (es != s->timing || !es->has_pts)
        return;
    if (is_video(es))
        track_reorder(&s->frames, es);
    track_step(s, es);
    if (is_video(es))
        track_rate(&s->params, es);
    es->prev_t = es->dts;
    es->has_prev = 1;
}

static void es_start(hs_segmenter *s, es_state *es)
{
    if (s->fmp4.on && is_video(es))
        remux_video_start(&s->fmp4.mx);
    es->aused = 0;
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

/* Collects the PES header; returns how many payload bytes it took. */
static size_t es_collect_header(hs_segmenter *s, es_state *es, const uint8_t *data, size_t len)
{
    size_t used = 0;
    while (used < len && es->hdr_got < es->hdr_need) {
        if (es->hdr_got < sizeof es->hdr)
            es->hdr[es->hdr_got] = data[used];
        es->hdr_got++;
        used++;
        if (es->hdr_got == 9) {
            const uint8_t *h = es->hdr;
            if (h[0] != 0 || h[1] != 0 || h[2] != 1 || (h[6] & 0xC0) != 0x80) {
                es->hdr_state = HDR_BAD;
                return len;
            }
            es->hdr_need = 9 + (size_t)h[8];
        }
    }
    if (es->hdr_got >= es->hdr_need)
        es_header_done(s, es);
    return used;
}

static void es_payload(hs_segmenter *s, es_state *es, const uint8_t *data, size_t len)
{
    if (!es->in_pes)
        return;
    if (es->hdr_state == HDR_COLLECT) {
        size_t used = es_collect_header(s, es, data, len);
        data += used;
        len -= used;
    }
    if (es->hdr_state != HDR_DONE || len == 0)
        return;
    if (is_video(es)) {
        nal_scan_feed(&es->nal, data, len);
        if (s->fmp4.on)
            remux_video_data(&s->fmp4.mx, data, len);
    } else if (es->alen < HS_AUDIO_PES_MAX) {
        size_t room = HS_AUDIO_PES_MAX - es->alen;
        size_t take = room < len ? room : len;
        memcpy(es->abuf + es->alen, data, take);
        es->alen += take;
        if (s->fmp4.on && (es->kind == K_ADTS || es->kind == K_MPA))
            remux_audio_data(&s->fmp4.mx, es->kind == K_ADTS, es->abuf, es->alen, &es->aused);
    }
}

/* The audio PES of es is complete: its parameters, and its duration when it times
 * the segments. */
static void audio_pes_end(hs_segmenter *s, es_state *es)
{
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
        if (es->kind == K_ADTS && s->params.aac_hint)
            snprintf(p.codec, sizeof p.codec, "mp4a.40.%u", s->params.aac_hint);
        s->params.audio = p;
        s->params.have_audio = 1;
    }
    if (es != s->timing || !es->has_pts)
        return;
    if (d == 0 || d > 10u * TICKS)
        d = (uint64_t)s->frames.audio_step;
    s->frames.frame_ticks = (int64_t)d;
    if (s->seg.has_first) {
        int64_t rel = ts_diff(es->pts, s->seg.first) + (int64_t)d;
        if (rel > s->seg.end_rel)
            s->seg.end_rel = rel;
    }
}

/* The PES of es is complete (next unit start, or end of input). */
static void es_end(hs_segmenter *s, es_state *es)
{
    if (!es->in_pes)
        return;
    es->in_pes = 0;
    if (es->hdr_state != HDR_DONE)
        return;
    if (!is_video(es))
        audio_pes_end(s, es);
    else if (s->fmp4.on)
        remux_video_end(&s->fmp4.mx, es->kind == K_H264 ? NAL_H264 : NAL_HEVC, es->has_pts,
                        es->pts, es->dts);
}

static int es_ready(const es_state *es)
{
    if (es->hdr_state == HDR_BAD)
        return 1;
    return es->hdr_state == HDR_DONE && (!is_video(es) || es->nal.done);
}

/* ---- PSI ---------------------------------------------------------------- */

static int section_ok(const uint8_t *sec, size_t len, unsigned table_id)
{
    return len >= 16 && sec[0] == table_id && (sec[1] & 0x80) && (sec[5] & 0x01) &&
           crc32_mpeg(sec, len) == 0;
}

static void on_pat(void *ctx, const uint8_t *sec, size_t len)
{
    hs_segmenter *s = ctx;
    program_tables *t = &s->psi;
    if (!section_ok(sec, len, 0x00))
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
    if (len != t->pat_len || memcmp(sec, t->pat, len) != 0) {
        memcpy(t->pat, sec, len);
        t->pat_len = len;
    }
    if (!t->have_pat || pmt_pid != t->pmt_pid) {
        t->pmt_pid = pmt_pid;
        psi_reset(&t->pmt_asm);
    }
    t->have_pat = 1;
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

/* The streams a PMT lists: the first video and the first audio one. */
typedef struct {
    unsigned vpid, vtype, apid, atype, hint;
} pmt_streams;

static pmt_streams pmt_parse(const program_tables *t, const uint8_t *sec, size_t len)
{
    pmt_streams ps = {0, 0, 0, 0, 0};
    size_t pos = 12 + (((size_t)(sec[10] & 0x0F) << 8) | sec[11]);
    while (pos + 5 <= len - 4) {
        unsigned type = sec[pos];
        unsigned pid = ((unsigned)(sec[pos + 1] & 0x1F) << 8) | sec[pos + 2];
        size_t info = ((size_t)(sec[pos + 3] & 0x0F) << 8) | sec[pos + 4];
        enum es_kind kind = kind_of(type);
        if (pid != PID_PAT && pid != PID_NULL && pid != t->pmt_pid) {
            if ((kind == K_H264 || kind == K_HEVC) && !ps.vpid) {
                ps.vpid = pid;
                ps.vtype = type;
            } else if ((kind == K_ADTS || kind == K_MPA || kind == K_AUDIO_OTHER) && !ps.apid &&
                       pid != ps.vpid) {
                ps.apid = pid;
                ps.atype = type;
                if (pos + 5 + info <= len - 4)
                    ps.hint = aac_hint_from(sec + pos + 5, info);
            }
        }
        pos += 5 + info;
    }
    return ps;
}

static void on_pmt(void *ctx, const uint8_t *sec, size_t len)
{
    hs_segmenter *s = ctx;
    program_tables *t = &s->psi;
    if (!section_ok(sec, len, 0x02))
        return;
    if (t->have_pmt && len == t->pmt_len && memcmp(sec, t->pmt, len) == 0)
        return;  /* the usual repetition */
    pmt_streams ps = pmt_parse(t, sec, len);
    if (s->held.active)
        resolve_pending(s);  /* the held packets were muxed under the old table */
    memcpy(t->pmt, sec, len);
    t->pmt_len = len;
    es_setup(&s->video, ps.vpid, ps.vtype);
    es_setup(&s->audio, ps.apid, ps.atype);
    s->params.aac_hint = ps.hint;  /* applied from the next audio PES on */
    s->timing = s->video.pid ? &s->video : (s->audio.pid ? &s->audio : NULL);
    if (!t->have_pmt)
        log_msg(s, "program: video pid %u (type 0x%02x), audio pid %u (type 0x%02x)", ps.vpid,
                ps.vtype, ps.apid, ps.atype);
    if (s->fmp4.on && s->audio.kind == K_AUDIO_OTHER)
        log_msg(s, "fMP4 carries AAC and MPEG audio only: audio stream type 0x%02x is left out",
                ps.atype);
    t->have_pmt = 1;
}

/* ---- packets ------------------------------------------------------------ */

/* A packet's header, checked: where its payload is. */
typedef struct {
    unsigned pid;
    int pusi;
    const uint8_t *payload;
    size_t len;
} packet_view;

/* 0: usable; -1: corrupt (counted); 1: stuffing. */
static int packet_open(hs_segmenter *s, const uint8_t *pkt, packet_view *v)
{
    if (pkt[1] & 0x80) {  /* transport_error_indicator */
        s->bad.corrupt++;
        return -1;
    }
    unsigned afc = (pkt[3] >> 4) & 3;
    if (afc == 0) {
        s->bad.corrupt++;
        return -1;
    }
    size_t off = 4;
    if (afc & 2) {
        off = 5 + (size_t)pkt[4];
        if (off > TS_PACKET || (afc == 3 && off == TS_PACKET)) {
            s->bad.corrupt++;
            return -1;
        }
    }
    v->pid = ts_pid(pkt);
    if (v->pid == PID_NULL)
        return 1;  /* stuffing: nothing a segment needs */
    v->payload = pkt + off;
    v->len = (afc & 1) ? TS_PACKET - off : 0;
    v->pusi = (pkt[1] & 0x40) != 0;
    return 0;
}

/* PAT/PMT packets go to their assemblers. Returns 0 once the program is known;
 * before that every other packet is dropped (no segment could carry it without its
 * tables). */
static int feed_tables(hs_segmenter *s, const packet_view *v)
{
    program_tables *t = &s->psi;
    int was_ready = t->have_pmt;
    if (v->pid == PID_PAT)
        psi_feed(&t->pat_asm, v->payload, v->len, v->pusi, on_pat, s);
    else if (t->have_pat && v->pid == t->pmt_pid)
        psi_feed(&t->pmt_asm, v->payload, v->len, v->pusi, on_pmt, s);
    if (was_ready)
        return 0;
    if (v->pid != PID_PAT && v->pid != t->pmt_pid)
        s->bad.before_pmt++;
    return -1;
}

/* The elementary stream to parse this packet as, after the continuity check; NULL
 * for other PIDs and for a repeated packet (passed on, but parsed once). */
static es_state *stream_of(hs_segmenter *s, const uint8_t *pkt, const packet_view *v)
{
    es_state *es = NULL;
    if (s->video.pid && v->pid == s->video.pid)
        es = &s->video;
    else if (s->audio.pid && v->pid == s->audio.pid)
        es = &s->audio;
    if (!es || !v->len)
        return es;
    int cc = pkt[3] & 0x0F;
    int dup = (cc == es->last_cc);
    if (es->last_cc >= 0 && !dup && cc != ((es->last_cc + 1) & 0x0F))
        s->bad.cc_errors++;
    es->last_cc = cc;
    return dup ? NULL : es;
}

/* Holds pkt until decide(); when it cannot be held, decides now. */
static void hold(hs_segmenter *s, const uint8_t *pkt)
{
    if (pend_push(s, pkt) < 0) {
        resolve_pending(s);
        out_packet(s, pkt, 1);
    }
}

/* A timing-stream PES starts: decide at once when its first packet tells enough,
 * else hold packets from here on. */
static void timing_unit_start(hs_segmenter *s, es_state *es, const uint8_t *pkt,
                              const packet_view *v)
{
    if (s->held.active)
        resolve_pending(s);
    es_end(s, es);
    es_start(s, es);
    es_payload(s, es, v->payload, v->len);
    s->held.len = 0;
    if (es_ready(es)) {
        s->held.active = 0;
        resolve_pending(s);
        out_packet(s, pkt, 1);
        return;
    }
    s->held.active = 1;
    hold(s, pkt);
}

/* Any other packet: parsed when it belongs to a stream we follow, then held or
 * passed on. */
static void pass_packet(hs_segmenter *s, es_state *es, const uint8_t *pkt,
                        const packet_view *v)
{
    /* For TS, most video packets come after the first slice NAL unit: nothing left to
     * parse. fMP4 needs every byte. */
    if (es && v->len &&
        (s->fmp4.on || !(es->hdr_state == HDR_DONE && is_video(es) && es->nal.done)))
        es_payload(s, es, v->payload, v->len);
    if (!s->held.active) {
        out_packet(s, pkt, 1);
        return;
    }
    if (pend_push(s, pkt) < 0) {
        resolve_pending(s);
        out_packet(s, pkt, 1);
    } else if ((es && es == s->timing && es_ready(es)) || s->held.len >= HS_PENDING_MAX) {
        resolve_pending(s);
    }
}

static void process_packet(hs_segmenter *s, const uint8_t *pkt)
{
    s->bad.packets++;
    packet_view v;
    if (packet_open(s, pkt, &v) != 0)
        return;
    if (feed_tables(s, &v) < 0)
        return;
    es_state *es = stream_of(s, pkt, &v);
    if (es && v.pusi && v.len) {
        if (es == s->timing) {
            timing_unit_start(s, es, pkt, &v);
            return;
        }
        es_end(s, es);
        es_start(s, es);
    }
    pass_packet(s, es, pkt, &v);
}

/* ---- input framing ------------------------------------------------------ */

/* Out of sync at buf[pos] == TS_SYNC: believe it only when the next two packets start
 * with a sync byte too. 1: yes; 0: no; -1: more data is needed to tell. */
static int sync_confirmed(const uint8_t *buf, size_t len, size_t pos, int eof)
{
    for (size_t k = 1; k <= 2; k++) {
        size_t at = pos + k * TS_PACKET;
        if (at < len) {
            if (buf[at] != TS_SYNC)
                return 0;
        } else if (!eof) {
            return -1;
        }
    }
    return 1;
}

/* Skips from pos to the next candidate sync byte; returns the new position. */
static size_t skip_to_sync(hs_segmenter *s, const uint8_t *buf, size_t len, size_t pos)
{
    if (s->synced) {
        s->synced = 0;
        if (s->bad.resyncs < LOG_RESYNCS_MAX)
            log_msg(s, "lost packet sync at input byte %llu",
                    (unsigned long long)(s->offset + pos));
    }
    const uint8_t *next = memchr(buf + pos + 1, TS_SYNC, len - pos - 1);
    size_t np = next ? (size_t)(next - buf) : len;
    s->bad.skipped_bytes += np - pos;
    return np;
}

/* ---- public ------------------------------------------------------------- */

hs_segmenter *hs_create(const hs_config *cfg)
{
    hs_segmenter *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->cfg = *cfg;
    s->grid.dur_ticks = cfg->duration * TICKS;
    s->grid.max_ticks = cfg->max_duration * TICKS;
    s->seg.seq = cfg->start_seq;
    s->grid.numbered = cfg->grid_origin >= 0;
    s->grid.origin_seq = cfg->grid_seq;
    s->video.last_cc = s->audio.last_cc = -1;
    s->video.abuf = malloc(HS_AUDIO_PES_MAX);
    s->audio.abuf = malloc(HS_AUDIO_PES_MAX);
    fmp4_output *f = &s->fmp4;
    f->on = cfg->fmp4;
    bb_init(&f->init, 0);
    bb_init(&f->next_init, 0);
    bb_init(&f->styp, 0);
    mp4_styp(&f->styp);
    f->parts.max_ticks = cfg->fmp4 ? cfg->part_duration * TICKS : 0;
    int mx = cfg->fmp4 ? remux_init(&f->mx) : 0;  /* TS needs none of it */
    int pw = f->parts.max_ticks > 0 ? writer_init(&f->parts.w, cfg->dir, cfg->prefix, ".m4s") : 0;
    const char *ext = cfg->fmp4 ? ".m4s" : ".ts";
    if (!s->video.abuf || !s->audio.abuf || mx < 0 || pw < 0 || f->styp.failed ||
        writer_init(&s->w, cfg->dir, cfg->prefix, ext) < 0) {
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
    free(s->held.buf);
    remux_free(&s->fmp4.mx);
    bb_free(&s->fmp4.init);
    bb_free(&s->fmp4.next_init);
    bb_free(&s->fmp4.styp);
    if (s->fmp4.parts.w.arena)
        writer_free(&s->fmp4.parts.w);
    free(s);
}

int hs_failed(const hs_segmenter *s) { return s->failed; }

int hs_add_cut(hs_segmenter *s, int64_t pts)
{
    cut_grid *g = &s->grid;
    pts = (int64_t)((uint64_t)pts & PTS_MASK);
    if (s->cfg.locked || g->nlive == HS_LIVE_CUTS_MAX)
        return -1;
    /* Too late: media at or past it has gone by (a cut now would be in the wrong place). */
    const es_state *es = s->timing;
    if (es && es->has_pts && s->seg.has_first &&
        (double)ts_diff(es->pts, pts) > (double)s->frames.frame_ticks / 2.0) {
        log_msg(s, "cut point %.3f s came after its media (now %.3f s): not cut",
                (double)pts / TICKS, (double)es->pts / TICKS);
        return 1;
    }
    if (g->nlive && ts_diff(pts, g->live_cuts[g->nlive - 1]) <= 0)
        return 1;  /* not after the last one: already there */
    g->live_cuts[g->nlive++] = pts;
    return 0;
}

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
            int ok = sync_confirmed(buf, len, pos, eof);
            if (ok < 0)
                break;  /* need more data to judge */
            if (ok) {
                if (s->offset + pos > 0 && s->bad.resyncs < LOG_RESYNCS_MAX)
                    log_msg(s, "packet sync found at input byte %llu",
                            (unsigned long long)(s->offset + pos));
                s->synced = 1;
                s->bad.resyncs++;
                process_packet(s, buf + pos);
                pos += TS_PACKET;
                continue;
            }
        }
        pos = skip_to_sync(s, buf, len, pos);
    }
    /* The writer references packets in buf: they must be out before buf changes. */
    if (s->seg.open && !s->failed && writer_flush(&s->w) < 0)
        io_fail(s);
    if (s->w.failed)
        io_fail(s);
    if (eof && pos < len) {
        s->bad.truncated += len - pos;
        pos = len;
    }
    s->offset += pos;
    return pos;
}

static void log_summary(hs_segmenter *s)
{
    const input_counters *c = &s->bad;
    log_msg(s,
            "end of input: %llu packets, %llu segments; skipped %llu bytes out of sync, "
            "%llu corrupt packets, %llu continuity errors, %llu packets before PAT/PMT, "
            "%llu truncated bytes at the end, %llu timestamp breaks, %llu cuts without keyframe, "
            "%llu samples fMP4 could not carry",
            (unsigned long long)c->packets, (unsigned long long)s->segments,
            (unsigned long long)c->skipped_bytes, (unsigned long long)c->corrupt,
            (unsigned long long)c->cc_errors, (unsigned long long)c->before_pmt,
            (unsigned long long)c->truncated, (unsigned long long)c->jumps,
            (unsigned long long)c->forced_cuts, (unsigned long long)s->fmp4.mx.dropped);
}

int hs_finish(hs_segmenter *s)
{
    if (s->held.active)
        resolve_pending(s);
    es_end(s, &s->video);
    es_end(s, &s->audio);
    if (s->seg.open)
        finish_segment(s, segment_end(s));
    char line[256];
    size_t len = event_end(line, sizeof line, s->segments, s->total_ticks,
                           s->bad.reported + corrupt_since(&s->bad));
    emit(s, line, len);
    log_summary(s);
    return s->failed ? -1 : 0;
}
