/* One segment file: written under a temporary name and renamed when complete.
 * Bytes are gathered as a list of pieces and written with one writev(): pieces of
 * the caller's input buffer by reference (no copy), and modified or held packets
 * copied into a small arena. With dir == NULL nothing touches the file system (the
 * fuzz harness uses that), but the same bookkeeping runs. */
#ifndef HLSD_WRITER_H
#define HLSD_WRITER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "sizes.h"

#define WRITER_IOV_MAX 512

typedef struct {
    const char *dir;    /* absolute directory, or NULL to discard */
    const char *prefix;
    const char *ext;    /* ".ts" or ".m4s" */
    int fd;
    int open;
    int failed;         /* an I/O call failed: see error */
    uint64_t bytes;     /* size of the segment so far */
    int iov_max;
    int niov;
    struct iovec iov[WRITER_IOV_MAX];
    size_t arena_len;
    uint8_t *arena;
    char final_path[HS_PATH_MAX];
    char tmp_path[HS_PATH_MAX + 8];
    char error[HS_PATH_MAX + 200];
} seg_writer;

int writer_init(seg_writer *w, const char *dir, const char *prefix, const char *ext);
void writer_free(seg_writer *w);
int writer_open(seg_writer *w, uint64_t seq);
/* An LL-HLS part of segment seq: NAME-<seq>.<index><ext>. */
int writer_open_part(seg_writer *w, uint64_t seq, unsigned index);
/* The open segment will be published as number seq instead. */
void writer_renumber(seg_writer *w, uint64_t seq);
void writer_add_ref(seg_writer *w, const uint8_t *p, size_t n);

/* Appends n bytes that stay valid and unchanged until the next writer_flush().
 * Inline: once per packet, and nearly always it just extends the last piece. */
static inline void writer_put_ref(seg_writer *w, const uint8_t *p, size_t n)
{
    if (w->niov > 0) {
        struct iovec *last = &w->iov[w->niov - 1];
        if ((const uint8_t *)last->iov_base + last->iov_len == p) {
            last->iov_len += n;
            w->bytes += n;
            return;
        }
    }
    writer_add_ref(w, p, n);
}
/* Room for n (<= HS_WRITER_ARENA) bytes in the arena; returns where to put them. */
uint8_t *writer_reserve(seg_writer *w, size_t n);
/* Writes out everything gathered so far (call before referenced bytes change). */
int writer_flush(seg_writer *w);
/* Flushes, closes and renames to final_path. */
int writer_close(seg_writer *w);
/* Closes and removes the temporary file (used on error paths). */
void writer_abort(seg_writer *w);

/* Writes a whole small file under path (as path.tmp, then renamed). -1 on error,
 * with the reason in err. */
int write_file_atomic(const char *path, const uint8_t *data, size_t len, char *err,
                      size_t errcap);

#endif
