#include "events.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* snprintf that never reports more than it wrote. */
static size_t put(char *buf, size_t cap, size_t pos, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

static size_t put(char *buf, size_t cap, size_t pos, const char *fmt, ...)
{
    if (pos >= cap)
        return pos;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + pos, cap - pos, fmt, ap);
    va_end(ap);
    if (n < 0)
        return pos;
    return (size_t)n >= cap - pos ? cap - 1 : pos + (size_t)n;
}

/* A JSON string: quotes, backslashes and control characters escaped. */
static size_t put_string(char *buf, size_t cap, size_t pos, const char *s)
{
    pos = put(buf, cap, pos, "\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            pos = put(buf, cap, pos, "\\%c", c);
        else if (c < 0x20)
            pos = put(buf, cap, pos, "\\u%04x", c);
        else
            pos = put(buf, cap, pos, "%c", c);
    }
    return put(buf, cap, pos, "\"");
}

static const char *audio_fallback(unsigned stream_type)
{
    switch (stream_type) {
    case 0x03: case 0x04: return "mp4a.40.34";
    case 0x81: return "ac-3";
    case 0x87: return "ec-3";
    default: return "mp4a.40.2";
    }
}

size_t event_stream(char *buf, size_t cap, const video_params *video, int hevc, int have_video,
                    double fps, const audio_params *audio, unsigned audio_stream_type,
                    int have_audio, int captions)
{
    size_t pos = put(buf, cap, 0, "{\"event\":\"stream\",\"video\":");
    if (video) {
        const char *codec = have_video ? video->codec : (hevc ? "hvc1" : "avc1");
        pos = put(buf, cap, pos, "{\"codec\":");
        pos = put_string(buf, cap, pos, codec);
        pos = put(buf, cap, pos, ",\"width\":%d,\"height\":%d,\"fps\":",
                  have_video ? video->width : 0, have_video ? video->height : 0);
        if (fps > 0 && fps < 1000) {
            /* Three decimals, trailing zeros dropped: 25.0, 29.97, 59.94 */
            char text[32];
            snprintf(text, sizeof text, "%.3f", fps);
            size_t n = strlen(text);
            while (n > 2 && text[n - 1] == '0' && text[n - 2] != '.')
                text[--n] = '\0';
            pos = put(buf, cap, pos, "%s", text);
        } else {
            pos = put(buf, cap, pos, "null");
        }
        pos = put(buf, cap, pos, captions ? ",\"captions\":true}" : "}");
    } else {
        pos = put(buf, cap, pos, "null");
    }
    pos = put(buf, cap, pos, ",\"audio\":");
    if (audio) {
        pos = put(buf, cap, pos, "{\"codec\":");
        pos = put_string(buf, cap, pos, have_audio ? audio->codec
                                                   : audio_fallback(audio_stream_type));
        if (have_audio)
            pos = put(buf, cap, pos, ",\"sample_rate\":%d,\"channels\":%d", audio->sample_rate,
                      audio->channels);
        pos = put(buf, cap, pos, "}");
    } else {
        pos = put(buf, cap, pos, "null");
    }
    return put(buf, cap, pos, "}");
}

size_t event_segment(char *buf, size_t cap, const segment_report *r)
{
    size_t pos = put(buf, cap, 0, "{\"event\":\"segment\",\"seq\":%llu,\"file\":",
                     (unsigned long long)r->seq);
    pos = put_string(buf, cap, pos, r->file);
    pos = put(buf, cap, pos, ",\"duration\":%.6f,\"pts\":%lld,\"bytes\":%llu,\"keyframe\":%s",
              (double)r->dur_ticks / 90000.0, (long long)r->pts, (unsigned long long)r->bytes,
              r->keyframe ? "true" : "false");
    if (r->discontinuity)
        pos = put(buf, cap, pos, ",\"discontinuity\":true");
    if (r->corrupt)
        pos = put(buf, cap, pos, ",\"corrupt\":%llu", (unsigned long long)r->corrupt);
    if (r->init) {
        pos = put(buf, cap, pos, ",\"init\":");
        pos = put_string(buf, cap, pos, r->init);
    }
    if (r->psi)
        pos = put(buf, cap, pos, ",\"psi\":%llu", (unsigned long long)r->psi);
    if (r->video) {
        pos = put(buf, cap, pos, ",\"keyframes\":[");
        for (size_t i = 0; i < r->nkeyframes; i++) {
            const keyframe_range *k = &r->keyframes[i];
            pos = put(buf, cap, pos, "%s[%llu,%llu,%lld]", i ? "," : "",
                      (unsigned long long)k->offset, (unsigned long long)k->size,
                      (long long)k->pts);
        }
        pos = put(buf, cap, pos, "]");
    }
    return put(buf, cap, pos, "}");
}

size_t event_init(char *buf, size_t cap, const char *file, uint64_t bytes)
{
    size_t pos = put(buf, cap, 0, "{\"event\":\"init\",\"file\":");
    pos = put_string(buf, cap, pos, file);
    return put(buf, cap, pos, ",\"bytes\":%llu}", (unsigned long long)bytes);
}

size_t event_end(char *buf, size_t cap, uint64_t segments, int64_t dur_ticks, uint64_t corrupt)
{
    return put(buf, cap, 0, "{\"event\":\"end\",\"segments\":%llu,\"duration\":%.6f,"
               "\"corrupt\":%llu}",
               (unsigned long long)segments, (double)dur_ticks / 90000.0,
               (unsigned long long)corrupt);
}

size_t event_part(char *buf, size_t cap, uint64_t seq, unsigned index, const char *file,
                  int64_t dur_ticks, uint64_t bytes, int independent, int last)
{
    size_t pos = put(buf, cap, 0, "{\"event\":\"part\",\"seq\":%llu,\"index\":%u,\"file\":",
                     (unsigned long long)seq, index);
    pos = put_string(buf, cap, pos, file);
    return put(buf, cap, pos, ",\"duration\":%.6f,\"bytes\":%llu,\"independent\":%s%s}",
               (double)dur_ticks / 90000.0, (unsigned long long)bytes,
               independent ? "true" : "false", last ? ",\"last\":true" : "");
}
