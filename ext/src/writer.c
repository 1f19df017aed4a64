#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "writer.h"

int writer_init(seg_writer *w, const char *dir, const char *prefix, const char *ext)
{
    memset(w, 0, sizeof *w);
    w->dir = dir;
    w->prefix = prefix;
    w->ext = ext;
    w->fd = -1;
    long iov_max = sysconf(_SC_IOV_MAX);
    w->iov_max = (iov_max < 16) ? 16 : (iov_max > WRITER_IOV_MAX ? WRITER_IOV_MAX : (int)iov_max);
    w->arena = malloc(HS_WRITER_ARENA);
    return w->arena ? 0 : -1;
}

void writer_free(seg_writer *w)
{
    writer_abort(w);
    free(w->arena);
    w->arena = NULL;
}

static int fail(seg_writer *w, const char *what, const char *path)
{
    if (!w->failed)
        snprintf(w->error, sizeof w->error, "%s %s: %s", what, path, strerror(errno));
    w->failed = 1;
    return -1;
}

/* Without a directory (fuzzing) the pieces are read instead of written, and TS ones
 * checked to be whole packets, so a piece that outlived its buffer shows up (ASan
 * catches a freed one in either format). */
static void check_pieces(const struct iovec *iov, int n, int ts)
{
    static volatile uint8_t sink;
    for (int i = 0; i < n; i++) {
        const uint8_t *p = iov[i].iov_base;
        if (!ts) {
            for (size_t off = 0; off < iov[i].iov_len; off += 64)
                sink = sink ^ p[off];
            if (iov[i].iov_len)
                sink = sink ^ p[iov[i].iov_len - 1];
            continue;
        }
        if (iov[i].iov_len % 188 != 0)
            abort();
        for (size_t off = 0; off < iov[i].iov_len; off += 188)
            if (p[off] != 0x47)
                abort();
    }
}

int writer_flush(seg_writer *w)
{
    struct iovec *iov = w->iov;
    int n = w->niov;
    w->niov = 0;
    w->arena_len = 0;
    if (!w->dir && w->open)
        check_pieces(iov, n, strcmp(w->ext, ".ts") == 0);
    while (w->fd >= 0 && n > 0) {
        ssize_t done = writev(w->fd, iov, n);
        if (done < 0) {
            if (errno == EINTR)
                continue;
            fail(w, "write", w->tmp_path);
            writer_abort(w);
            return -1;
        }
        /* A short write: skip what went out and go on with the rest. */
        size_t left = (size_t)done;
        while (n > 0 && left >= iov->iov_len) {
            left -= iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (uint8_t *)iov->iov_base + left;
            iov->iov_len -= left;
        }
    }
    return w->failed ? -1 : 0;
}

/* NAME-<seq><ext>, or NAME-<seq>.<part><ext> for a part (part >= 0). */
static void set_name(seg_writer *w, uint64_t seq, long part)
{
    char tail[32] = "";
    if (part >= 0)
        snprintf(tail, sizeof tail, ".%ld", part);
    if (!w->dir)
        snprintf(w->final_path, sizeof w->final_path, "%s-%05llu%s%s", w->prefix,
                 (unsigned long long)seq, tail, w->ext);
    else
        snprintf(w->final_path, sizeof w->final_path, "%s/%s-%05llu%s%s", w->dir, w->prefix,
                 (unsigned long long)seq, tail, w->ext);
}

static int open_named(seg_writer *w, uint64_t seq, long part);

int writer_open(seg_writer *w, uint64_t seq) { return open_named(w, seq, -1); }

int writer_open_part(seg_writer *w, uint64_t seq, unsigned index)
{
    return open_named(w, seq, (long)index);
}

static int open_named(seg_writer *w, uint64_t seq, long part)
{
    w->bytes = 0;
    w->niov = 0;
    w->arena_len = 0;
    w->open = 1;
    set_name(w, seq, part);
    if (!w->dir)
        return 0;
    snprintf(w->tmp_path, sizeof w->tmp_path, "%s.tmp", w->final_path);
    w->fd = open(w->tmp_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (w->fd < 0)
        return fail(w, "open", w->tmp_path);
    return 0;
}

static void add_piece(seg_writer *w, const uint8_t *p, size_t n)
{
    if (w->niov > 0) {
        struct iovec *last = &w->iov[w->niov - 1];
        if ((const uint8_t *)last->iov_base + last->iov_len == p) {
            last->iov_len += n;
            return;
        }
    }
    w->iov[w->niov].iov_base = (void *)(uintptr_t)p;
    w->iov[w->niov].iov_len = n;
    w->niov++;
}

void writer_add_ref(seg_writer *w, const uint8_t *p, size_t n)
{
    if (w->niov >= w->iov_max)
        writer_flush(w);
    add_piece(w, p, n);
    w->bytes += n;
}

uint8_t *writer_reserve(seg_writer *w, size_t n)
{
    if (w->niov >= w->iov_max || w->arena_len + n > HS_WRITER_ARENA)
        writer_flush(w);
    uint8_t *p = w->arena + w->arena_len;
    w->arena_len += n;
    add_piece(w, p, n);
    w->bytes += n;
    return p;
}

int writer_close(seg_writer *w)
{
    if (!w->open)
        return 0;
    int rc = writer_flush(w);
    w->open = 0;
    if (!w->dir)
        return 0;
    if (rc < 0 || w->fd < 0)
        return -1;  /* an earlier write failed; error already set */
    if (close(w->fd) < 0)
        rc = fail(w, "close", w->tmp_path);
    w->fd = -1;
    if (rc == 0 && rename(w->tmp_path, w->final_path) < 0)
        rc = fail(w, "rename", w->tmp_path);
    if (rc < 0)
        unlink(w->tmp_path);
    return rc;
}

void writer_abort(seg_writer *w)
{
    if (w->fd >= 0) {
        close(w->fd);
        w->fd = -1;
        unlink(w->tmp_path);
    }
    w->open = 0;
    w->niov = 0;
    w->arena_len = 0;
}

void writer_renumber(seg_writer *w, uint64_t seq)
{
    /* Only the name it will be renamed to changes; the temporary file stays. */
    set_name(w, seq, -1);
}

int write_file_atomic(const char *path, const uint8_t *data, size_t len, char *err,
                      size_t errcap)
{
    char tmp[HS_PATH_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    const char *what = "open";
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    size_t off = 0;
    while (fd >= 0 && off < len) {
        ssize_t n = write(fd, data + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            what = "write";
            break;
        }
        off += (size_t)n;
    }
    if (fd >= 0 && off == len) {
        what = "close";
        if (close(fd) == 0) {
            what = "rename";
            if (rename(tmp, path) == 0)
                return 0;
        }
        fd = -1;
    }
    snprintf(err, errcap, "%s %s: %s", what, tmp, strerror(errno));
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    return -1;
}
