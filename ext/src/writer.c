#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "writer.h"


int writer_init(seg_writer *w, const char *dir, const char *prefix)
{
    memset(w, 0, sizeof *w);
    w->dir = dir;
    w->prefix = prefix;
    w->fd = -1;
    w->buf = malloc(WRITER_BUFFER);
    return w->buf ? 0 : -1;
}

void writer_free(seg_writer *w)
{
    writer_abort(w);
    free(w->buf);
    w->buf = NULL;
}

static int fail(seg_writer *w, const char *what, const char *path)
{
    if (!w->failed)
        snprintf(w->error, sizeof w->error, "%s %s: %s", what, path, strerror(errno));
    w->failed = 1;
    return -1;
}

static int flush(seg_writer *w)
{
    size_t off = 0;
    while (w->fd >= 0 && off < w->len) {
        ssize_t n = write(w->fd, w->buf + off, w->len - off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            w->len = 0;
            return fail(w, "write", w->tmp_path);
        }
        off += (size_t)n;
    }
    w->len = 0;
    return 0;
}

int writer_open(seg_writer *w, uint64_t seq)
{
    w->bytes = 0;
    w->len = 0;
    w->open = 1;
    if (!w->dir) {
        snprintf(w->final_path, sizeof w->final_path, "%s-%05llu.ts", w->prefix,
                 (unsigned long long)seq);
        return 0;
    }
    snprintf(w->final_path, sizeof w->final_path, "%s/%s-%05llu.ts", w->dir, w->prefix,
             (unsigned long long)seq);
    snprintf(w->tmp_path, sizeof w->tmp_path, "%s.tmp", w->final_path);
    w->fd = open(w->tmp_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (w->fd < 0)
        return fail(w, "open", w->tmp_path);
    return 0;
}

uint8_t *writer_reserve(seg_writer *w, size_t n)
{
    if (w->len + n > WRITER_BUFFER && flush(w) < 0)
        writer_abort(w);
    uint8_t *p = w->buf + w->len;
    w->len += n;
    w->bytes += n;
    return p;
}

int writer_close(seg_writer *w)
{
    if (!w->open)
        return 0;
    w->open = 0;
    if (!w->dir) {
        w->len = 0;
        return 0;
    }
    if (w->failed || w->fd < 0)
        return -1;  /* an earlier write failed; error already set */
    int rc = flush(w);
    if (close(w->fd) < 0 && rc == 0)
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
    w->len = 0;
}
