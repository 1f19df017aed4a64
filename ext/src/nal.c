#include "nal.h"

#include <string.h>

void nal_scan_reset(nal_scanner *sc, enum nal_codec codec)
{
    sc->codec = codec;
    sc->zeros = 0;
    sc->header_next = 0;
    sc->done = 0;
    sc->rap = 0;
    sc->capturing = 0;
    sc->cap_len = 0;
    sc->cap_overflow = 0;
    sc->sps_len = 0;
}

static void end_capture(nal_scanner *sc)
{
    /* The bytes of the start code that ended the SPS were captured too; the SPS itself
     * ends with a stop bit, so trailing zero bytes never belong to it. */
    size_t n = sc->cap_len;
    if (n > 0 && sc->cap[n - 1] == 1)
        n--;
    while (n > 0 && sc->cap[n - 1] == 0)
        n--;
    if (!sc->cap_overflow && n > 0) {
        memcpy(sc->sps, sc->cap, n);
        sc->sps_len = n;
    }
    sc->capturing = 0;
    sc->cap_len = 0;
    sc->cap_overflow = 0;
}

/* Returns 1 when the scan is complete (first VCL NAL unit found). */
static int on_header(nal_scanner *sc, uint8_t b)
{
    unsigned type;
    int vcl, rap, sps;
    if (sc->codec == NAL_H264) {
        type = b & 0x1Fu;
        vcl = (type >= 1 && type <= 5);
        rap = (type == 5);
        sps = (type == 7);
    } else {
        type = (b >> 1) & 0x3Fu;
        vcl = (type < 32);
        rap = (type >= 16 && type <= 23);
        sps = (type == 33);
    }
    if (vcl) {
        sc->done = 1;
        sc->rap = rap;
        return 1;
    }
    if (sps) {
        sc->capturing = 1;
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
