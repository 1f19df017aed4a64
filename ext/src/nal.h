/* Streaming scan of an H.264/HEVC PES payload for NAL unit headers, fed packet by
 * packet. It stops at the first VCL (slice) NAL unit, which tells whether the access
 * unit is a random access point, and captures the parameter sets on the way. */
#ifndef HLSD_NAL_H
#define HLSD_NAL_H

#include <stddef.h>
#include <stdint.h>

#define NAL_SPS_MAX 1024

enum nal_codec { NAL_H264, NAL_HEVC };
/* Parameter set kinds (H.264 has no VPS). */
enum nal_ps { NAL_VPS, NAL_SPS, NAL_PPS, NAL_PS_KINDS };
/* `capturing` while inside an SEI NAL unit (looked at for captions, not kept). */
#define NAL_SEI_CAPTURE (NAL_PS_KINDS + 1)

typedef struct {
    enum nal_codec codec;
    unsigned zeros;       /* consecutive zero bytes just seen */
    int header_next;      /* the next byte is a NAL header */
    int done;             /* first VCL NAL unit seen */
    int rap;              /* ... and it is IDR (H.264) / IRAP (HEVC) */
    int capturing;        /* inside a parameter set: 1 + its enum nal_ps; or NAL_SEI_CAPTURE */
    int captions;         /* an SEI of this access unit carries ATSC A/53 captions (GA94) */
    size_t cap_len;
    int cap_overflow;
    uint8_t cap[NAL_SPS_MAX];
    /* The last complete parameter set of each kind in this access unit (length 0:
     * none), header included, escaped as in the stream. */
    size_t ps_len[NAL_PS_KINDS];
    uint8_t ps[NAL_PS_KINDS][NAL_SPS_MAX];
} nal_scanner;

void nal_scan_reset(nal_scanner *sc, enum nal_codec codec);
void nal_scan_feed(nal_scanner *sc, const uint8_t *data, size_t len);

/* The NAL unit type of a header byte, and what it is. */
unsigned nal_type(enum nal_codec codec, uint8_t header);
int nal_is_vcl(enum nal_codec codec, unsigned type);
int nal_is_rap(enum nal_codec codec, unsigned type);    /* IDR (H.264) / IRAP (HEVC) */
int nal_is_aud(enum nal_codec codec, unsigned type);
/* The parameter set kind of a type, or -1. */
int nal_ps_kind(enum nal_codec codec, unsigned type);

#endif
