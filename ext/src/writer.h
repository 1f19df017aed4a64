/* One segment file: buffered writes under a temporary name, renamed when complete.
 * With dir == NULL nothing touches the file system (the fuzz harness uses that). */
#ifndef HLSD_WRITER_H
#define HLSD_WRITER_H

#include <stddef.h>
#include <stdint.h>

#define WRITER_BUFFER (1u << 20)

typedef struct {
    const char *dir;    /* absolute directory, or NULL to discard */
    const char *prefix;
    int fd;
    int open;
    uint64_t bytes;     /* size of the segment so far */
    size_t len;
    uint8_t *buf;
    int failed;         /* an I/O call failed: see error */
    char final_path[4200];
    char tmp_path[4208];
    char error[4400];
} seg_writer;

int writer_init(seg_writer *w, const char *dir, const char *prefix);
void writer_free(seg_writer *w);
int writer_open(seg_writer *w, uint64_t seq);
/* Room for n (<= WRITER_BUFFER) more bytes; returns where to put them. */
uint8_t *writer_reserve(seg_writer *w, size_t n);
/* Flushes, closes and renames to final_path. */
int writer_close(seg_writer *w);
/* Closes and removes the temporary file (used on error paths). */
void writer_abort(seg_writer *w);

#endif
