/* hlsd-segmenter: MPEG-TS on stdin -> DIR/NAME-<seq>.ts segments + JSON event lines.
 * Only arguments, the stdin loop and where lines go live here; see segmenter.c. */
#define _XOPEN_SOURCE 700
#if defined(__linux__)
#define _GNU_SOURCE /* F_SETPIPE_SZ */
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "segmenter.h"

/* Reads stay cache-sized: each chunk is parsed and written out while still hot. */
#define READ_BUFFER (256u << 10)
#define PIPE_SIZE (1u << 20)
#define HEAD 1024u   /* room for the unconsumed tail of a read: < 3 packets */

static const char usage[] =
    "usage: hlsd-segmenter --duration S --dir DIR --prefix NAME [--start-seq N] "
    "[--max-duration M] [--grid-origin PTS [--grid-seq N]]\n"
    "  Reads MPEG-TS on stdin, writes DIR/NAME-<seq>.ts, prints one JSON event per line.\n";

static volatile sig_atomic_t stop_requested;

/* SIGTERM/SIGINT end the input: the segment in flight is finished and reported like
 * at end of input. Closing stdin (async-signal-safe) makes a read() that has not
 * started yet fail at once instead of waiting for more data. */
static void on_stop(int sig)
{
    (void)sig;
    stop_requested = 1;
    close(STDIN_FILENO);
}

static void on_event(void *ctx, const char *line, size_t len)
{
    (void)ctx;
    /* One write per line: the daemon reads whole lines, and a pipe write this small
     * is atomic. */
    char buf[8300];
    if (len + 1 > sizeof buf)
        len = sizeof buf - 1;
    memcpy(buf, line, len);
    buf[len] = '\n';
    size_t off = 0;
    while (off < len + 1) {
        ssize_t n = write(STDOUT_FILENO, buf + off, len + 1 - off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        off += (size_t)n;
    }
}

static void on_log(void *ctx, const char *msg)
{
    (void)ctx;
    fprintf(stderr, "hlsd-segmenter: %s\n", msg);
}

static int bad_args(const char *msg, const char *arg)
{
    fprintf(stderr, "hlsd-segmenter: %s%s%s\n%s", msg, arg ? ": " : "", arg ? arg : "", usage);
    return 2;
}

static int parse_seconds(const char *text, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end || !isfinite(v) || v <= 0 || v > 86400)
        return -1;
    *out = v;
    return 0;
}

/* mkdir -p */
static int make_dirs(const char *path)
{
    char tmp[PATH_MAX];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof tmp)
        return -1;
    memcpy(tmp, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (tmp[i] == '/' || tmp[i] == '\0') {
            char c = tmp[i];
            tmp[i] = '\0';
            if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
                return -1;
            tmp[i] = c;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *dir = NULL, *prefix = NULL;
    double duration = 0, max_duration = 0;
    unsigned long long start_seq = 0;
    long long grid_origin = -1;
    unsigned long long grid_seq = 0;
    int have_grid_seq = 0;
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i];
        if (!strcmp(opt, "-h") || !strcmp(opt, "--help")) {
            fputs(usage, stdout);
            return 0;
        }
        /* --name VALUE and --name=VALUE */
        const char *value = NULL;
        char name[32];
        const char *eq = strchr(opt, '=');
        size_t nlen = eq ? (size_t)(eq - opt) : strlen(opt);
        if (nlen >= sizeof name)
            return bad_args("unknown option", opt);
        memcpy(name, opt, nlen);
        name[nlen] = '\0';
        if (eq)
            value = eq + 1;
        else if (i + 1 < argc)
            value = argv[++i];
        else
            return bad_args("missing value for", opt);
        if (!strcmp(name, "--duration")) {
            if (parse_seconds(value, &duration) < 0)
                return bad_args("--duration needs seconds > 0", value);
        } else if (!strcmp(name, "--max-duration")) {
            if (parse_seconds(value, &max_duration) < 0)
                return bad_args("--max-duration needs seconds > 0", value);
        } else if (!strcmp(name, "--dir")) {
            dir = value;
        } else if (!strcmp(name, "--prefix")) {
            prefix = value;
        } else if (!strcmp(name, "--start-seq")) {
            char *end;
            errno = 0;
            start_seq = strtoull(value, &end, 10);
            if (errno || end == value || *end || value[0] == '-' || start_seq > 999999999999ULL)
                return bad_args("--start-seq needs an integer >= 0", value);
        } else if (!strcmp(name, "--grid-seq")) {
            char *end;
            errno = 0;
            grid_seq = strtoull(value, &end, 10);
            if (errno || end == value || *end || value[0] == '-' || grid_seq > 999999999999ULL)
                return bad_args("--grid-seq needs an integer >= 0", value);
            have_grid_seq = 1;
        } else if (!strcmp(name, "--grid-origin")) {
            char *end;
            errno = 0;
            grid_origin = strtoll(value, &end, 10);
            if (errno || end == value || *end || grid_origin < 0 || grid_origin >= (1LL << 33))
                return bad_args("--grid-origin needs a PTS from 0 to 2^33-1", value);
        } else {
            return bad_args("unknown option", opt);
        }
    }
    if (duration <= 0)
        return bad_args("--duration is required", NULL);
    if (!dir || !*dir)
        return bad_args("--dir is required", NULL);
    if (!prefix || !*prefix || strchr(prefix, '/') || strlen(prefix) > 200)
        return bad_args("--prefix is required: a file name part without '/'", prefix);
    if (max_duration > 0 && max_duration < duration)
        return bad_args("--max-duration must not be less than --duration", NULL);
    if (strlen(dir) > 3800)
        return bad_args("--dir is too long", NULL);

    char absdir[PATH_MAX];
    if (make_dirs(dir) < 0 || !realpath(dir, absdir)) {
        fprintf(stderr, "hlsd-segmenter: cannot use directory %s: %s\n", dir, strerror(errno));
        return 1;
    }
    if (strlen(absdir) > 3800)
        return bad_args("--dir is too long", NULL);

    hs_config cfg = {
        .duration = duration,
        .max_duration = max_duration,
        .dir = absdir,
        .prefix = prefix,
        .start_seq = start_seq,
        .grid_origin = grid_origin,
        .grid_seq = have_grid_seq ? grid_seq : start_seq,
        .on_event = on_event,
        .on_log = on_log,
        .ctx = NULL,
    };
    hs_segmenter *s = hs_create(&cfg);
    /* Reads land page-aligned at buf + HEAD; the unconsumed tail of the previous read
     * (less than HEAD bytes) is moved just in front of them. Misaligned copies out of
     * the kernel cost measurably at these rates. */
    uint8_t *buf = malloc(HEAD + READ_BUFFER + 4096);
    uint8_t *area = buf ? buf + HEAD + (4096 - (uintptr_t)(buf + HEAD) % 4096) % 4096 : NULL;
    if (!s || !buf) {
        fprintf(stderr, "hlsd-segmenter: out of memory\n");
        return 1;
    }
#ifdef F_SETPIPE_SZ
    /* A deeper pipe lets the encoder run ahead and halves our read calls; best effort
     * (fails harmlessly on non-pipes or above /proc/sys/fs/pipe-max-size). */
    (void)fcntl(STDIN_FILENO, F_SETPIPE_SZ, (int)PIPE_SIZE);
#endif
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;  /* no SA_RESTART: a blocked read() returns EINTR */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    size_t have = 0;
    int eof = 0, rc = 0;
    while (!eof) {
        ssize_t n = stop_requested ? 0 : read(STDIN_FILENO, area, READ_BUFFER);
        if (n < 0 && stop_requested)
            n = 0;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "hlsd-segmenter: reading stdin: %s\n", strerror(errno));
            rc = 1;
            break;
        }
        if (n == 0) {
            eof = 1;
            if (stop_requested)
                fprintf(stderr, "hlsd-segmenter: stopping on signal; finishing the last segment\n");
        }
        uint8_t *start = area - have;  /* the tail already sits right before area */
        have += (size_t)n;
        size_t used = hs_feed(s, start, have, eof);
        if (hs_failed(s))
            break;
        have -= used;
        if (have > HEAD) {  /* cannot happen: hs_feed leaves less than three packets */
            fprintf(stderr, "hlsd-segmenter: internal error: %zu bytes left over\n", have);
            rc = 1;
            break;
        }
        memmove(area - have, start + used, have);
    }
    if (!hs_failed(s) && hs_finish(s) < 0)
        rc = 1;
    if (hs_failed(s))
        rc = 1;
    hs_destroy(s);
    free(buf);
    return rc;
}
