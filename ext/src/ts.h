/* MPEG-TS packets and PSI: CRC-32, section reassembly, tables back into packets. */
#ifndef HLSD_TS_H
#define HLSD_TS_H

#include <stddef.h>
#include <stdint.h>

#define TS_PACKET 188
#define TS_SYNC 0x47
#define PID_PAT 0x0000
#define PID_NULL 0x1FFF
#define PSI_SECTION_MAX 1024  /* PAT/PMT section_length is at most 1021 */

static inline unsigned ts_pid(const uint8_t *p) { return ((unsigned)(p[1] & 0x1F) << 8) | p[2]; }

uint32_t crc32_mpeg(const uint8_t *data, size_t len);

typedef void (*psi_section_fn)(void *ctx, const uint8_t *section, size_t len);

/* Reassembles the sections of one PID from packet payloads. */
typedef struct {
    int active;     /* inside a section (a unit start was seen) */
    size_t len;
    uint8_t buf[PSI_SECTION_MAX + 4];
} psi_assembler;

void psi_reset(psi_assembler *pa);
void psi_feed(psi_assembler *pa, const uint8_t *payload, size_t len, int unit_start,
              psi_section_fn fn, void *ctx);

/* Writes `section` as TS packets of `pid` into out (room for PSI_PACKETS_MAX packets),
 * continuity counter taken from and advanced in *cc. Returns the number of packets. */
#define PSI_PACKETS_MAX 6
size_t psi_packetize(const uint8_t *section, size_t len, unsigned pid, uint8_t *cc,
                     uint8_t *out);

#endif
