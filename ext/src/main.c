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
#include <time.h>
#include <unistd.h>

#include "segmenter.h"
#include "sizes.h"

#define HEAD 1024u   /* room for the unconsumed tail of a read: < 3 packets */

static const char usage[] =
    "usage: hlsd-segmenter --duration S --dir DIR --prefix NAME [--start-seq N] "
    "[--max-duration M] [--grid-origin PTS [--grid-seq N]] [--format ts|fmp4 "
    "[--part-duration P]] [--timeline local|locked] [--cut-at T1,T2,...] [--cut-fd N]\n"
    "  Reads MPEG-TS on stdin, writes DIR/NAME-<seq>.ts (fmp4: DIR/NAME-init-<hash>.mp4 and\n"
    "  DIR/NAME-<seq>.m4s; with --part-duration also LL-HLS parts DIR/NAME-<seq>.<i>.m4s),\n"
    "  prints one JSON event per line. --cut-at: extra segment boundaries (ad splice\n"
    "  points), seconds after the grid origin, ascending; the grid goes on after each.\n"
    "  --cut-fd: more such points while running, one PTS (90 kHz, the input's clock) a\n"
    "  line on that inherited descriptor, read between reads of stdin.\n";

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
    char buf[HS_EVENT_MAX + 1];
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

/* --timeline locked: the wall clock picks the input clock's 33-bit epoch. */
static double wall_clock(void *ctx)
{
    (void)ctx;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
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

/* The command line, checked. */
typedef struct {
    const char *dir, *prefix;
    double duration, max_duration, part_duration;
    unsigned long long start_seq, grid_seq;
    long long grid_origin;
    int have_grid_seq;
    int fmp4;
    int locked;
    double *cuts;
    size_t ncuts;
    int cut_fd;
} options;

/* --cut-fd: lines of PTS, read without waiting; a partial line waits for its end. */
typedef struct {
    int fd;
    char line[32];
    size_t len;
} cut_reader;

#define CUTS_MAX 4096

/* "T1,T2,..." seconds >= 0, strictly ascending; -1 for anything else. */
static int parse_cuts(const char *text, options *o)
{
    free(o->cuts);
    o->cuts = calloc(CUTS_MAX, sizeof *o->cuts);
    o->ncuts = 0;
    if (!o->cuts)
        return -1;
    const char *p = text;
    while (*p) {
        char *end;
        errno = 0;
        double v = strtod(p, &end);
        if (errno || end == p || !isfinite(v) || v < 0 || v > 1e7 || o->ncuts == CUTS_MAX ||
            (o->ncuts && v <= o->cuts[o->ncuts - 1]) || (*end && *end != ','))
            return -1;
        o->cuts[o->ncuts++] = v;
        p = *end ? end + 1 : end;
        if (*end && !*p)
            return -1;  /* a trailing comma */
    }
    return o->ncuts ? 0 : -1;
}

static int parse_count(const char *value, unsigned long long *out)
{
    char *end;
    errno = 0;
    *out = strtoull(value, &end, 10);
    return (errno || end == value || *end || value[0] == '-' || *out > 999999999999ULL) ? -1 : 0;
}

/* One option and its value; returns 0, or the exit status for a bad one. */
static int set_option(options *o, const char *name, const char *opt, const char *value)
{
    if (!strcmp(name, "--duration")) {
        if (parse_seconds(value, &o->duration) < 0)
            return bad_args("--duration needs seconds > 0", value);
    } else if (!strcmp(name, "--max-duration")) {
        if (parse_seconds(value, &o->max_duration) < 0)
            return bad_args("--max-duration needs seconds > 0", value);
    } else if (!strcmp(name, "--dir")) {
        o->dir = value;
    } else if (!strcmp(name, "--prefix")) {
        o->prefix = value;
    } else if (!strcmp(name, "--start-seq")) {
        if (parse_count(value, &o->start_seq) < 0)
            return bad_args("--start-seq needs an integer >= 0", value);
    } else if (!strcmp(name, "--grid-seq")) {
        if (parse_count(value, &o->grid_seq) < 0)
            return bad_args("--grid-seq needs an integer >= 0", value);
        o->have_grid_seq = 1;
    } else if (!strcmp(name, "--part-duration")) {
        if (parse_seconds(value, &o->part_duration) < 0)
            return bad_args("--part-duration needs seconds > 0", value);
    } else if (!strcmp(name, "--format")) {
        if (strcmp(value, "ts") != 0 && strcmp(value, "fmp4") != 0)
            return bad_args("--format needs ts or fmp4", value);
        o->fmp4 = !strcmp(value, "fmp4");
    } else if (!strcmp(name, "--timeline")) {
        if (strcmp(value, "local") != 0 && strcmp(value, "locked") != 0)
            return bad_args("--timeline needs local or locked", value);
        o->locked = !strcmp(value, "locked");
    } else if (!strcmp(name, "--cut-at")) {
        if (parse_cuts(value, o) < 0)
            return bad_args("--cut-at needs ascending seconds >= 0, comma-separated", value);
    } else if (!strcmp(name, "--cut-fd")) {
        char *end;
        errno = 0;
        long fd = strtol(value, &end, 10);
        if (errno || end == value || *end || fd < 3 || fd > INT_MAX ||
            fcntl((int)fd, F_GETFD) < 0)
            return bad_args("--cut-fd needs an open descriptor >= 3", value);
        o->cut_fd = (int)fd;
    } else if (!strcmp(name, "--grid-origin")) {
        char *end;
        errno = 0;
        o->grid_origin = strtoll(value, &end, 10);
        if (errno || end == value || *end || o->grid_origin < 0 || o->grid_origin >= (1LL << 33))
            return bad_args("--grid-origin needs a PTS from 0 to 2^33-1", value);
    } else {
        return bad_args("unknown option", opt);
    }
    return 0;
}

static int check_options(const options *o)
{
    if (o->duration <= 0)
        return bad_args("--duration is required", NULL);
    if (!o->dir || !*o->dir)
        return bad_args("--dir is required", NULL);
    if (!o->prefix || !*o->prefix || strchr(o->prefix, '/') || strlen(o->prefix) > HS_PREFIX_MAX)
        return bad_args("--prefix is required: a file name part without '/'", o->prefix);
    if (o->max_duration > 0 && o->max_duration < o->duration)
        return bad_args("--max-duration must not be less than --duration", NULL);
    if (strlen(o->dir) > HS_DIR_MAX)
        return bad_args("--dir is too long", NULL);
    if (o->part_duration > 0 && !o->fmp4)
        return bad_args("--part-duration needs --format fmp4", NULL);
    if (o->part_duration > o->duration)
        return bad_args("--part-duration must not be more than --duration", NULL);
    if (o->ncuts && o->locked)
        return bad_args("--cut-at does not go with --timeline locked", NULL);
    if (o->cut_fd && o->locked)
        return bad_args("--cut-fd does not go with --timeline locked", NULL);
    return 0;
}

/* Returns -1 to go on, else the exit status (0 after --help). */
static int parse_args(int argc, char **argv, options *o)
{
    memset(o, 0, sizeof *o);
    o->grid_origin = -1;
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
        int rc = set_option(o, name, opt, value);
        if (rc)
            return rc;
    }
    int rc = check_options(o);
    return rc ? rc : -1;
}

/* Creates the directory and resolves it to an absolute path; -1 or the exit status. */
static int output_dir(const char *dir, char *absdir)
{
    if (make_dirs(dir) < 0 || !realpath(dir, absdir)) {
        fprintf(stderr, "hlsd-segmenter: cannot use directory %s: %s\n", dir, strerror(errno));
        return 1;
    }
    if (strlen(absdir) > HS_DIR_MAX)
        return bad_args("--dir is too long", NULL);
    return -1;
}

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;  /* no SA_RESTART: a blocked read() returns EINTR */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
}

/* The cut points written to --cut-fd so far; a line that is no PTS is reported and
 * skipped. Never waits (the descriptor is non-blocking); its end or an error just stop
 * the reading. */
static void read_cuts(hs_segmenter *s, cut_reader *c)
{
    char buf[512];
    ssize_t n;
    while (c->fd >= 0 && (n = read(c->fd, buf, sizeof buf)) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                c->fd = -1;
            return;
        }
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] != '\n') {
                if (c->len < sizeof c->line - 1)
                    c->line[c->len++] = buf[i];
                continue;
            }
            c->line[c->len] = '\0';
            char *end;
            errno = 0;
            long long pts = strtoll(c->line, &end, 10);
            if (errno || end == c->line || *end || pts < 0 || pts >= (1LL << 33))
                fprintf(stderr, "hlsd-segmenter: --cut-fd: not a PTS: %s\n", c->line);
            else
                (void)hs_add_cut(s, pts);
            c->len = 0;
        }
    }
    c->fd = -1;  /* the writer closed it */
}

/* Feeds stdin to the segmenter until end of input or a stop signal. Reads land
 * page-aligned at `area`; the unconsumed tail of the previous read (less than HEAD
 * bytes) is moved just in front of it. Misaligned copies out of the kernel cost
 * measurably at these rates. Returns 0, or 1 on a read or internal error. */
static int read_loop(hs_segmenter *s, uint8_t *area, cut_reader *cuts)
{
    size_t have = 0;
    int eof = 0;
    while (!eof) {
        ssize_t n = stop_requested ? 0 : read(STDIN_FILENO, area, HS_READ_BUFFER);
        if (n < 0 && stop_requested)
            n = 0;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "hlsd-segmenter: reading stdin: %s\n", strerror(errno));
            return 1;
        }
        if (n == 0) {
            eof = 1;
            if (stop_requested)
                fprintf(stderr, "hlsd-segmenter: stopping on signal; finishing the last segment\n");
        }
        read_cuts(s, cuts);  /* before the media that may reach them */
        uint8_t *start = area - have;  /* the tail already sits right before area */
        have += (size_t)n;
        size_t used = hs_feed(s, start, have, eof);
        if (hs_failed(s))
            return 0;
        have -= used;
        if (have > HEAD) {  /* cannot happen: hs_feed leaves less than three packets */
            fprintf(stderr, "hlsd-segmenter: internal error: %zu bytes left over\n", have);
            return 1;
        }
        memmove(area - have, start + used, have);
    }
    return 0;
}

int main(int argc, char **argv)
{
    options o;
    int rc = parse_args(argc, argv, &o);
    if (rc >= 0)
        return rc;
    char absdir[PATH_MAX];
    rc = output_dir(o.dir, absdir);
    if (rc >= 0)
        return rc;

    hs_config cfg = {
        .duration = o.duration,
        .max_duration = o.max_duration,
        .dir = absdir,
        .prefix = o.prefix,
        .start_seq = o.start_seq,
        .grid_origin = o.grid_origin,
        .grid_seq = o.have_grid_seq ? o.grid_seq : o.start_seq,
        .fmp4 = o.fmp4,
        .locked = o.locked,
        .wall_clock = wall_clock,
        .part_duration = o.part_duration,
        .cuts = o.cuts,
        .ncuts = o.ncuts,
        .on_event = on_event,
        .on_log = on_log,
        .ctx = NULL,
    };
    hs_segmenter *s = hs_create(&cfg);
    uint8_t *buf = malloc(HEAD + HS_READ_BUFFER + 4096);
    uint8_t *area = buf ? buf + HEAD + (4096 - (uintptr_t)(buf + HEAD) % 4096) % 4096 : NULL;
    if (!s || !buf) {
        fprintf(stderr, "hlsd-segmenter: out of memory\n");
        return 1;
    }
#ifdef F_SETPIPE_SZ
    /* A deeper pipe lets the encoder run ahead and halves our read calls; best effort
     * (fails harmlessly on non-pipes or above /proc/sys/fs/pipe-max-size). */
    (void)fcntl(STDIN_FILENO, F_SETPIPE_SZ, (int)HS_PIPE_SIZE);
#endif
    install_signals();
    cut_reader cuts = {.fd = o.cut_fd ? o.cut_fd : -1};
    if (cuts.fd >= 0)
        (void)fcntl(cuts.fd, F_SETFL, fcntl(cuts.fd, F_GETFL) | O_NONBLOCK);
    rc = read_loop(s, area, &cuts);
    if (!hs_failed(s) && hs_finish(s) < 0)
        rc = 1;
    if (hs_failed(s))
        rc = 1;
    hs_destroy(s);
    free(buf);
    free(o.cuts);
    return rc;
}
