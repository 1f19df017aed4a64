#define _POSIX_C_SOURCE 200809L
#include "remux.h"

#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "sizes.h"

#define DEFAULT_STEP 3600       /* 25 fps: a video duration before any was measured */

static int track_init(remux_track *t)
{
    memset(t, 0, sizeof *t);
    bb_init(&t->data, HS_FRAGMENT_MAX);
    t->cap = HS_FRAGMENT_SAMPLES;
    t->samples = malloc(t->cap * sizeof *t->samples);
    t->entries = malloc(t->cap * sizeof *t->entries);
    return (t->samples && t->entries) ? 0 : -1;
}

static void track_free(remux_track *t)
{
    free(t->samples);
    free(t->entries);
    bb_free(&t->data);
}

static void track_clear(remux_track *t)
{
    t->n = 0;
    bb_clear(&t->data);
}

int remux_init(remux *r)
{
    memset(r, 0, sizeof *r);
    bb_init(&r->au, HS_FRAGMENT_MAX);
    bb_init(&r->box, HS_FRAGMENT_MAX);
    int a = track_init(&r->video), b = track_init(&r->audio);
    return (a < 0 || b < 0) ? -1 : 0;
}

void remux_free(remux *r)
{
    track_free(&r->video);
    track_free(&r->audio);
    bb_free(&r->au);
    bb_free(&r->box);
}

/* Appends a sample whose size bytes were just added to t->data. */
static void track_add(remux *r, remux_track *t, uint32_t size, int64_t time, int32_t cto,
                      int sync)
{
    if (t->n == t->cap || size == 0) {
        r->dropped++;
        t->data.len -= size;
        return;
    }
    remux_sample *s = &t->samples[t->n++];
    s->size = size;
    s->time = time;
    s->cto = cto;
    s->sync = sync;
}

/* ---- video -------------------------------------------------------------- */

void remux_video_start(remux *r)
{
    bb_clear(&r->au);
    r->au_open = 1;
}

void remux_video_data(remux *r, const uint8_t *data, size_t len)
{
    if (r->au_open)
        bb_bytes(&r->au, data, len);  /* an oversized access unit fails: dropped at its end */
}

/* The position just after the next start code (00 00 01) at or after pos; *code_at
 * gets where that start code begins. len when there is none. */
static size_t next_start(const uint8_t *d, size_t pos, size_t len, size_t *code_at)
{
    size_t i = pos;
    while (len >= 3 && i <= len - 3) {
        const uint8_t *one = memchr(d + i + 2, 1, len - i - 2);
        if (!one)
            break;
        size_t j = (size_t)(one - d);
        if (d[j - 1] == 0 && d[j - 2] == 0) {
            *code_at = j - 2;
            return j + 1;
        }
        i = j - 1;
    }
    *code_at = len;
    return len;
}

/* Annex B -> 4-byte lengths into t->data; returns the bytes added and sets *sync
 * when a random access slice is among them. */
static size_t convert_au(remux_track *t, enum nal_codec codec, const uint8_t *d, size_t len,
                         int *sync)
{
    size_t before = t->data.len, code_at;
    size_t start = next_start(d, 0, len, &code_at);
    *sync = 0;
    while (start < len) {
        size_t next = next_start(d, start, len, &code_at);
        size_t end = code_at;
        while (end > start && d[end - 1] == 0)  /* trailing zeros: part of the next start code */
            end--;
        if (end > start) {
            unsigned type = nal_type(codec, d[start]);
            if (nal_is_rap(codec, type))
                *sync = 1;
            if (!nal_is_aud(codec, type)) {
                uint8_t *p = bb_grow(&t->data, 4 + (end - start));
                if (!p)
                    break;
                put_be32(p, (uint32_t)(end - start));
                memcpy(p + 4, d + start, end - start);
            }
        }
        start = next;
    }
    if (t->data.failed) {
        t->data.failed = 0;
        t->data.len = before;
        return 0;
    }
    return t->data.len - before;
}

void remux_video_end(remux *r, enum nal_codec codec, int has_pts, int64_t pts, int64_t dts)
{
    if (!r->au_open)
        return;
    r->au_open = 0;
    remux_track *t = &r->video;
    int sync = 0;
    size_t size = (has_pts && !r->au.failed && r->have_vcfg)
                      ? convert_au(t, codec, r->au.p, r->au.len, &sync) : 0;
    if (size && !sync && !r->video_synced) {
        t->data.len -= size;  /* nothing before the first keyframe can be decoded */
        size = 0;
    }
    if (size == 0) {
        r->dropped++;
        return;
    }
    r->video_synced |= sync;
    int64_t cto = ts_diff(pts, dts);
    if (cto < -JUMP_LIMIT || cto > JUMP_LIMIT)
        cto = 0;
    if (t->n > 0) {
        int64_t step = ts_diff(dts, t->samples[t->n - 1].time);
        if (step > 0 && step <= JUMP_LIMIT)
            r->vstep = step;
    }
    track_add(r, t, (uint32_t)size, dts, (int32_t)cto, sync);
}

static int video_config_equal(const video_config *a, const video_config *b)
{
    if (a->hevc != b->hevc)
        return 0;
    for (int k = 0; k < NAL_PS_KINDS; k++)
        if (a->ps_len[k] != b->ps_len[k] || memcmp(a->ps[k], b->ps[k], a->ps_len[k]) != 0)
            return 0;
    return 1;
}

/* A configuration a decoder can start from: every parameter set, a readable SPS. */
static int video_config_complete(video_config *c)
{
    const size_t *n = c->ps_len;
    if (n[NAL_SPS] < 4 || n[NAL_PPS] == 0 || (c->hevc && n[NAL_VPS] == 0))
        return 0;
    int rc = c->hevc ? hevc_parse_sps(c->ps[NAL_SPS], n[NAL_SPS], &c->params)
                     : h264_parse_sps(c->ps[NAL_SPS], n[NAL_SPS], &c->params);
    return rc == 0 && c->params.width <= 0xFFFF && c->params.height <= 0xFFFF;
}

int remux_video_params(remux *r, const nal_scanner *sc)
{
    int any = 0;
    for (int k = 0; k < NAL_PS_KINDS; k++)
        any |= sc->ps_len[k] != 0;
    if (!any)
        return 0;
    video_config *c = &r->vnext;
    if (r->have_vcfg)
        *c = r->vcfg;
    else
        memset(c, 0, sizeof *c);
    c->hevc = (sc->codec == NAL_HEVC);
    for (int k = 0; k < NAL_PS_KINDS; k++) {
        if (sc->ps_len[k]) {
            memcpy(c->ps[k], sc->ps[k], sc->ps_len[k]);
            c->ps_len[k] = sc->ps_len[k];
        }
    }
    if (!video_config_complete(c) || (r->have_vcfg && video_config_equal(c, &r->vcfg)))
        return 0;
    r->have_vnext = 1;
    return 1;
}

/* ---- audio -------------------------------------------------------------- */

void remux_audio_pes(remux *r, int has_pts, int64_t pts)
{
    r->apes_has_pts = has_pts;
    r->apes_pts = pts;
    r->apes_frames = 0;
}

static void audio_config_of(audio_config *c, int adts, const audio_frame *f)
{
    memset(c, 0, sizeof *c);
    c->sample_rate = f->sample_rate;
    c->channels = f->channels;
    c->frame_samples = f->samples;
    if (adts) {
        /* AudioSpecificConfig: object type, frequency index, channels; GA defaults. */
        c->oti = 0x40;
        c->asc[0] = (uint8_t)((f->object_type << 3) | (f->rate_index >> 1));
        c->asc[1] = (uint8_t)(((f->rate_index & 1) << 7) | (f->channel_config << 3));
    } else {
        c->oti = f->mpeg1 ? 0x6B : 0x69;
    }
}

static int audio_config_equal(const audio_config *a, const audio_config *b)
{
    return a->oti == b->oti && memcmp(a->asc, b->asc, sizeof a->asc) == 0 &&
           a->sample_rate == b->sample_rate && a->channels == b->channels &&
           a->frame_samples == b->frame_samples;
}

/* One whole frame: its configuration checked, its payload a sample. */
static void take_frame(remux *r, int adts, const uint8_t *frame, const audio_frame *f)
{
    audio_config c;
    audio_config_of(&c, adts, f);
    remux_track *t = &r->audio;
    unsigned index = r->apes_frames++;
    /* ADTS frames of several raw blocks cannot be split without their CRC layout. */
    if ((adts && f->samples != 1024) || !r->apes_has_pts) {
        r->dropped++;
        return;
    }
    int differs = !r->have_acfg || !audio_config_equal(&c, &r->acfg);
    if (differs && !r->locked && t->n == 0) {
        r->acfg = c;
        r->have_acfg = 1;
        r->audio_change = 0;
    } else if (differs) {
        /* Another configuration needs another init: drop until the segment is cut. */
        r->anext = c;
        r->audio_change = 1;
        r->dropped++;
        return;
    }
    size_t size = f->length - f->header;
    bb_bytes(&t->data, frame + f->header, size);
    if (t->data.failed) {
        t->data.failed = 0;
        r->dropped++;
        return;
    }
    int64_t offset = (int64_t)index * f->samples * TICKS / f->sample_rate;
    track_add(r, t, (uint32_t)size, (r->apes_pts + offset) & (int64_t)PTS_MASK, 0, 1);
}

void remux_audio_data(remux *r, int adts, const uint8_t *buf, size_t len, size_t *used)
{
    /* A header split across TS packets: wait for the rest before judging it. */
    size_t header_max = adts ? 9 : 4;
    while (len - *used >= header_max) {
        audio_frame f;
        const uint8_t *at = buf + *used;
        int rc = adts ? adts_frame(at, len - *used, &f) : mpa_frame(at, len - *used, &f);
        if (rc == 0)
            return;  /* the rest of the frame is still to come */
        if (rc < 0) {
            /* Not a frame: resynchronise on the next 0xFF. */
            const uint8_t *ff = (len - *used > 1) ? memchr(at + 1, 0xFF, len - *used - 1) : NULL;
            *used = ff ? (size_t)(ff - buf) : len;
            continue;
        }
        take_frame(r, adts, at, &f);
        *used += f.length;
    }
}

/* ---- segments and fragments --------------------------------------------- */

static void apply_video(remux *r)
{
    r->vcfg = r->vnext;
    r->have_vcfg = 1;
    r->have_vnext = 0;
}

static void apply_audio(remux *r)
{
    r->acfg = r->anext;
    r->have_acfg = 1;
    r->audio_change = 0;
}

void remux_apply_free(remux *r)
{
    if (r->have_vnext && !r->locked && r->video.n == 0)
        apply_video(r);
    if (r->audio_change && !r->locked && r->audio.n == 0)
        apply_audio(r);
}

int remux_needs_cut(const remux *r) { return r->have_vnext || r->audio_change; }

void remux_commit(remux *r)
{
    if (r->have_vnext)
        apply_video(r);
    if (r->audio_change)
        apply_audio(r);
    r->locked = 0;
}

int remux_has_samples(const remux *r) { return r->video.n > 0 || r->audio.n > 0; }

int remux_wants_flush(const remux *r)
{
    const remux_track *v = &r->video, *a = &r->audio;
    return v->n >= HS_FRAGMENT_SAMPLES / 2 || a->n >= HS_FRAGMENT_SAMPLES / 2 ||
           v->data.len >= HS_FRAGMENT_SOFT || a->data.len >= HS_FRAGMENT_SOFT;
}

void remux_discard(remux *r)
{
    r->dropped += r->video.n + r->audio.n;
    track_clear(&r->video);
    track_clear(&r->audio);
}

void remux_init_segment(remux *r, byte_buf *out)
{
    r->locked = 1;
    r->video.id = r->have_vcfg ? MP4_VIDEO_TRACK : 0;
    r->audio.id = r->have_acfg ? mp4_audio_track(r->have_vcfg) : 0;
    mp4_init_segment(out, r->have_vcfg ? &r->vcfg : NULL, r->have_acfg ? &r->acfg : NULL);
}

/* The first fragment of a track fixes where its decode time starts. */
static void anchor(remux *r, remux_track *t, uint32_t timescale)
{
    int64_t first = t->samples[0].time;
    if (!r->anchored) {
        r->anchored = 1;
        r->anchor_time = first;
        r->anchor_90k = (uint64_t)first;
    }
    int64_t at = (int64_t)r->anchor_90k + ts_diff(first, r->anchor_time);
    if (at < 0)
        at = 0;
    t->next_decode = (uint64_t)at * timescale / TICKS;
    t->anchored = 1;
}

/* Video durations are DTS steps; the last one reaches the next access unit, or
 * repeats the last step when that is not known (end of input, timestamp break). */
static void video_entries(remux *r, int have_next, int64_t next_dts)
{
    remux_track *t = &r->video;
    for (size_t i = 0; i < t->n; i++) {
        const remux_sample *s = &t->samples[i];
        int64_t d = -1;
        if (i + 1 < t->n)
            d = ts_diff(t->samples[i + 1].time, s->time);
        else if (have_next)
            d = ts_diff(next_dts, s->time);
        if (d > 0 && d <= JUMP_LIMIT)
            r->vstep = d;
        else
            d = r->vstep ? r->vstep : DEFAULT_STEP;
        mp4_sample *e = &t->entries[i];
        e->duration = (uint32_t)d;
        e->size = s->size;
        e->flags = s->sync ? MP4_SYNC_FLAGS : MP4_NON_SYNC_FLAGS;
        e->cto = s->cto;
    }
}

static void audio_entries(remux *r)
{
    remux_track *t = &r->audio;
    for (size_t i = 0; i < t->n; i++) {
        mp4_sample *e = &t->entries[i];
        e->duration = r->acfg.frame_samples;
        e->size = t->samples[i].size;
        e->flags = MP4_SYNC_FLAGS;
        e->cto = 0;
    }
}

/* moof + mdat of one track into w (and also); its buffers are free again when this
 * returns. Returns the moof's size (0: nothing written) and adds its duration. */
static size_t write_track(remux *r, remux_track *t, int video, seg_writer *w, seg_writer *also,
                          int64_t *ticks)
{
    uint32_t timescale = video ? TICKS : (uint32_t)r->acfg.sample_rate;
    if (!t->anchored)
        anchor(r, t, timescale);
    bb_clear(&r->box);
    size_t moof = mp4_fragment(&r->box, ++r->moof_seq, t->id, video, t->next_decode, t->entries,
                               t->n, t->data.len);
    if (r->box.failed) {
        r->dropped += t->n;
        return 0;
    }
    seg_writer *to[2] = {w, also};
    for (int i = 0; i < 2 && to[i]; i++) {
        writer_put_ref(to[i], r->box.p, r->box.len);
        writer_put_ref(to[i], t->data.p, t->data.len);
        writer_flush(to[i]);
    }
    uint64_t sum = 0;
    for (size_t i = 0; i < t->n; i++)
        sum += t->entries[i].duration;
    t->next_decode += sum;
    *ticks = (int64_t)(sum * TICKS / timescale);
    return moof;
}

void remux_write(remux *r, seg_writer *w, seg_writer *also, int have_next, int64_t next_dts,
                 fragment_info *out)
{
    memset(out, 0, sizeof *out);
    uint64_t before = w->bytes;
    remux_track *v = &r->video, *a = &r->audio;
    int64_t vticks = 0, aticks = 0;
    if (v->n && v->id) {
        video_entries(r, have_next, next_dts);
        uint64_t offset = w->bytes;
        size_t moof = write_track(r, v, 1, w, also, &vticks);
        if (moof && v->samples[0].sync) {
            out->keyframe = 1;
            out->kf.offset = offset;
            out->kf.size = moof + 8 + v->samples[0].size;
            out->kf.pts = (v->samples[0].time + v->samples[0].cto) & (int64_t)PTS_MASK;
        }
    } else {
        r->dropped += v->n;
    }
    if (a->n && a->id) {
        audio_entries(r);
        write_track(r, a, 0, w, also, &aticks);
    } else {
        r->dropped += a->n;
    }
    out->ticks = vticks ? vticks : aticks;
    out->bytes = w->bytes - before;
    track_clear(v);
    track_clear(a);
}
