/* Buffer sizes. Every buffer that scales with the data rate is a multiple of one unit,
 * HS_CHUNK, so they stay in proportion when it is tuned; the fixed sizes below it
 * follow from the formats (PSI sections, path lengths) and are named once here. */
#ifndef HLSD_SIZES_H
#define HLSD_SIZES_H

/* A read from stdin, the writer's arena of copied bytes and one audio PES: sized so a
 * chunk is parsed and written out while it is still in the CPU cache. */
#define HS_CHUNK (256u << 10)

#define HS_READ_BUFFER HS_CHUNK
#define HS_WRITER_ARENA HS_CHUNK
#define HS_AUDIO_PES_MAX HS_CHUNK
/* Packets held while the first slice of an access unit is looked for. */
#define HS_PENDING_MAX (32u * HS_CHUNK)
/* fMP4: a track's samples wait for their fragment (one GOP, normally). Past the soft
 * size a fragment is written at the next access unit; the hard one bounds memory
 * (and one access unit). */
#define HS_FRAGMENT_SOFT (32u * HS_CHUNK)
#define HS_FRAGMENT_MAX (128u * HS_CHUNK)
#define HS_FRAGMENT_SAMPLES 4096u
/* The pipe depth asked for on stdin: lets the encoder run ahead. */
#define HS_PIPE_SIZE (4u * HS_CHUNK)

/* --dir and --prefix are limited so that every path fits HS_PATH_MAX. */
#define HS_DIR_MAX 3800u
#define HS_PREFIX_MAX 200u
#define HS_PATH_MAX 4200u
/* One event line: a path, a few numbers and up to HS_KEYFRAMES_MAX byte ranges. */
#define HS_KEYFRAMES_MAX 128u
#define HS_EVENT_MAX (HS_PATH_MAX * 2u + HS_KEYFRAMES_MAX * 64u)

#endif
