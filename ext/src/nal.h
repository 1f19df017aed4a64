/* Streaming scan of an H.264/HEVC PES payload for NAL unit headers, fed packet by
 * packet. It stops at the first VCL (slice) NAL unit, which tells whether the access
 * unit is a random access point, and captures the SPS on the way. */
#ifndef HLSD_NAL_H
#define HLSD_NAL_H

#include <stddef.h>
#include <stdint.h>

#define NAL_SPS_MAX 1024

enum nal_codec { NAL_H264, NAL_HEVC };

typedef struct {
    enum nal_codec codec;
    unsigned zeros;       /* consecutive zero bytes just seen */
    int header_next;      /* the next byte is a NAL header */
    int done;             /* first VCL NAL unit seen */
    int rap;              /* ... and it is IDR (H.264) / IRAP (HEVC) */
    int capturing;        /* inside an SPS */
    size_t cap_len;
    int cap_overflow;
    uint8_t cap[NAL_SPS_MAX];
    /* The last complete SPS of this access unit (sps_len 0: none yet). */
    size_t sps_len;
    uint8_t sps[NAL_SPS_MAX];
} nal_scanner;

void nal_scan_reset(nal_scanner *sc, enum nal_codec codec);
void nal_scan_feed(nal_scanner *sc, const uint8_t *data, size_t len);

#endif
