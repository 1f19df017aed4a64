#include "nal.h"

#include <string.h>

unsigned nal_type(enum nal_codec codec, uint8_t header)
{
    return codec == NAL_H264 ? (header & 0x1Fu) : ((header >> 1) & 0x3Fu);
}

int nal_is_vcl(enum nal_codec codec, unsigned type)
{
    return codec == NAL_H264 ? (type >= 1 && type <= 5) : (type < 32);
}

int nal_is_rap(enum nal_codec codec, unsigned type)
{
    return codec == NAL_H264 ? (type == 5) : (type >= 16 && type <= 23);
}

int nal_is_aud(enum nal_codec codec, unsigned type)
{
    return codec == NAL_H264 ? (type == 9) : (type == 35);
}

int nal_ps_kind(enum nal_codec codec, unsigned type)
{
    if (codec == NAL_H264)
        return type == 7 ? NAL_SPS : (type == 8 ? NAL_PPS : -1);
    return type == 32 ? NAL_VPS : (type == 33 ? NAL_SPS : (type == 34 ? NAL_PPS : -1));
}

/* SEI that may hold closed captions: H.264's SEI, HEVC's prefix SEI. */
static int is_sei(enum nal_codec codec, unsigned type)
{
    return codec == NAL_H264 ? type == 6 : type == 39;
}

/* ATSC A/53 Part 4 caption data in an SEI: user_data_registered_itu_t_t35 with country
 * code 0xB5 (USA), provider 0x0031, user identifier "GA94", user_data_type_code 3
 * (cc_data). Searched as bytes: these headers are never emulation-escaped. */
static int has_a53_captions(const uint8_t *p, size_t n)
{
    static const uint8_t sig[] = {0xB5, 0x00, 0x31, 'G', 'A', '9', '4', 0x03};
    for (size_t i = 0; i + sizeof sig <= n; i++)
        if (memcmp(p + i, sig, sizeof sig) == 0)
            return 1;
    return 0;
}

void nal_scan_reset(nal_scanner *sc, enum nal_codec codec)
{
    sc->codec = codec;
    sc->zeros = 0;
    sc->header_next = 0;
    sc->done = 0;
    sc->rap = 0;
    sc->capturing = 0;
    sc->captions = 0;
    sc->cap_len = 0;
    sc->cap_overflow = 0;
    for (int k = 0; k < NAL_PS_KINDS; k++)
        sc->ps_len[k] = 0;
}

static void end_capture(nal_scanner *sc)
{
    /* The bytes of the start code that ended the parameter set were captured too; it
     * ends with a stop bit, so trailing zero bytes never belong to it. */
    size_t n = sc->cap_len;
    if (n > 0 && sc->cap[n - 1] == 1)
        n--;
    while (n > 0 && sc->cap[n - 1] == 0)
        n--;
    if (sc->capturing == NAL_SEI_CAPTURE) {
        /* An SEI longer than the buffer: its first bytes still hold the headers. */
        if (has_a53_captions(sc->cap, n))
            sc->captions = 1;
        sc->capturing = 0;
        sc->cap_len = 0;
        sc->cap_overflow = 0;
        return;
    }
    int kind = sc->capturing - 1;
    if (!sc->cap_overflow && n > 0) {
        memcpy(sc->ps[kind], sc->cap, n);
        sc->ps_len[kind] = n;
    }
    sc->capturing = 0;
    sc->cap_len = 0;
    sc->cap_overflow = 0;
}

/* Returns 1 when the scan is complete (first VCL NAL unit found). */
static int on_header(nal_scanner *sc, uint8_t b)
{
    unsigned type = nal_type(sc->codec, b);
    if (nal_is_vcl(sc->codec, type)) {
        sc->done = 1;
        sc->rap = nal_is_rap(sc->codec, type);
        return 1;
    }
    int kind = nal_ps_kind(sc->codec, type);
    if (kind >= 0 || is_sei(sc->codec, type)) {
        sc->capturing = kind >= 0 ? 1 + kind : NAL_SEI_CAPTURE;
        sc->cap_len = 0;
        sc->cap_overflow = 0;
    }
    return 0;
}

void nal_scan_feed(nal_scanner *sc, const uint8_t *data, size_t len)
{
    if (sc->done)
        return;
    for (size_t i = 0; i < len; i++) {
        uint8_t b = data[i];
        if (sc->header_next) {
            sc->header_next = 0;
            if (on_header(sc, b))
                return;
        }
        if (sc->capturing) {
            if (sc->cap_len < NAL_SPS_MAX)
                sc->cap[sc->cap_len++] = b;
            else
                sc->cap_overflow = 1;
        }
        if (b == 0) {
            if (sc->zeros < 3)
                sc->zeros++;
        } else {
            if (b == 1 && sc->zeros >= 2) {
                if (sc->capturing)
                    end_capture(sc);
                sc->header_next = 1;
            }
            sc->zeros = 0;
        }
    }
}
