#include "mp4.h"

#include <string.h>

static const uint32_t unity_matrix[9] = {0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000};

uint32_t mp4_audio_track(int have_video) { return have_video ? 2u : 1u; }

static void matrix(byte_buf *b)
{
    for (int i = 0; i < 9; i++)
        bb_u32(b, unity_matrix[i]);
}

static void ftyp(byte_buf *b)
{
    size_t at = box_open(b, "ftyp");
    bb_fourcc(b, "iso6");
    bb_u32(b, 0);
    bb_fourcc(b, "iso6");
    bb_fourcc(b, "cmfc");
    bb_fourcc(b, "mp41");
    box_close(b, at);
}

static void mvhd(byte_buf *b, uint32_t next_track)
{
    size_t at = full_box_open(b, "mvhd", 0, 0);
    bb_u32(b, 0);           /* creation_time */
    bb_u32(b, 0);           /* modification_time */
    bb_u32(b, 1000);        /* timescale */
    bb_u32(b, 0);           /* duration: unknown, fragments follow */
    bb_u32(b, 0x00010000);  /* rate 1.0 */
    bb_u16(b, 0x0100);      /* volume 1.0 */
    bb_zeros(b, 2 + 8);
    matrix(b);
    bb_zeros(b, 24);        /* pre_defined */
    bb_u32(b, next_track);
    box_close(b, at);
}

static void tkhd(byte_buf *b, uint32_t track, int audio, int width, int height)
{
    size_t at = full_box_open(b, "tkhd", 0, 0x000003);  /* enabled, in movie */
    bb_u32(b, 0);
    bb_u32(b, 0);
    bb_u32(b, track);
    bb_u32(b, 0);
    bb_u32(b, 0);           /* duration */
    bb_zeros(b, 8);
    bb_u16(b, 0);           /* layer */
    bb_u16(b, 0);           /* alternate_group */
    bb_u16(b, audio ? 0x0100 : 0);
    bb_u16(b, 0);
    matrix(b);
    bb_u32(b, (uint32_t)width << 16);
    bb_u32(b, (uint32_t)height << 16);
    box_close(b, at);
}

static void mdhd(byte_buf *b, uint32_t timescale)
{
    size_t at = full_box_open(b, "mdhd", 0, 0);
    bb_u32(b, 0);
    bb_u32(b, 0);
    bb_u32(b, timescale);
    bb_u32(b, 0);
    bb_u16(b, 0x55C4);      /* language "und", packed ISO-639-2/T */
    bb_u16(b, 0);
    box_close(b, at);
}

static void hdlr(byte_buf *b, int audio)
{
    size_t at = full_box_open(b, "hdlr", 0, 0);
    bb_u32(b, 0);
    bb_fourcc(b, audio ? "soun" : "vide");
    bb_zeros(b, 12);
    const char *name = audio ? "SoundHandler" : "VideoHandler";
    bb_bytes(b, name, strlen(name) + 1);
    box_close(b, at);
}

static void dinf(byte_buf *b)
{
    size_t at = box_open(b, "dinf");
    size_t dref = full_box_open(b, "dref", 0, 0);
    bb_u32(b, 1);
    size_t url = full_box_open(b, "url ", 0, 1);  /* media in the same file */
    box_close(b, url);
    box_close(b, dref);
    box_close(b, at);
}

/* Empty sample tables: every sample is in a fragment. */
static void empty_tables(byte_buf *b)
{
    static const char *const counted[] = {"stts", "stsc", "stco"};
    for (int i = 0; i < 3; i++) {
        size_t at = full_box_open(b, counted[i], 0, 0);
        bb_u32(b, 0);
        box_close(b, at);
    }
    size_t at = full_box_open(b, "stsz", 0, 0);
    bb_u32(b, 0);
    bb_u32(b, 0);
    box_close(b, at);
}

static void visual_entry_fields(byte_buf *b, int width, int height)
{
    bb_zeros(b, 6);
    bb_u16(b, 1);           /* data_reference_index */
    bb_zeros(b, 16);        /* pre_defined, reserved */
    bb_u16(b, (unsigned)width);
    bb_u16(b, (unsigned)height);
    bb_u32(b, 0x00480000);  /* 72 dpi */
    bb_u32(b, 0x00480000);
    bb_u32(b, 0);
    bb_u16(b, 1);           /* frame_count */
    bb_zeros(b, 32);        /* compressorname */
    bb_u16(b, 0x0018);      /* depth */
    bb_u16(b, 0xFFFF);      /* pre_defined = -1 */
}

/* AVCDecoderConfigurationRecord (ISO/IEC 14496-15 5.3.3.1). */
static void avcc(byte_buf *b, const video_config *v)
{
    const uint8_t *sps = v->ps[NAL_SPS];
    size_t at = box_open(b, "avcC");
    bb_u8(b, 1);
    bb_u8(b, sps[1]);       /* profile_idc */
    bb_u8(b, sps[2]);       /* constraint flags: profile_compatibility */
    bb_u8(b, sps[3]);       /* level_idc */
    bb_u8(b, 0xFC | 3);     /* lengthSizeMinusOne: 4-byte lengths */
    bb_u8(b, 0xE0 | 1);
    bb_u16(b, (unsigned)v->ps_len[NAL_SPS]);
    bb_bytes(b, sps, v->ps_len[NAL_SPS]);
    bb_u8(b, 1);
    bb_u16(b, (unsigned)v->ps_len[NAL_PPS]);
    bb_bytes(b, v->ps[NAL_PPS], v->ps_len[NAL_PPS]);
    unsigned p = sps[1];
    if (p == 100 || p == 110 || p == 122 || p == 144) {
        bb_u8(b, 0xFC | v->params.chroma_format);
        bb_u8(b, 0xF8 | v->params.bit_depth_luma);
        bb_u8(b, 0xF8 | v->params.bit_depth_chroma);
        bb_u8(b, 0);        /* numOfSequenceParameterSetExt */
    }
    box_close(b, at);
}

/* HEVCDecoderConfigurationRecord (ISO/IEC 14496-15 8.3.3.1). */
static void hvcc(byte_buf *b, const video_config *v)
{
    const video_params *p = &v->params;
    size_t at = box_open(b, "hvcC");
    bb_u8(b, 1);
    bb_u8(b, (p->profile_space << 6) | (p->tier << 5) | p->profile_idc);
    bb_u32(b, p->compat_flags);
    bb_bytes(b, p->constraint_flags, 6);
    bb_u8(b, p->level_idc);
    bb_u16(b, 0xF000);      /* min_spatial_segmentation_idc 0 */
    bb_u8(b, 0xFC);         /* parallelismType 0: unknown */
    bb_u8(b, 0xFC | p->chroma_format);
    bb_u8(b, 0xF8 | p->bit_depth_luma);
    bb_u8(b, 0xF8 | p->bit_depth_chroma);
    bb_u16(b, 0);           /* avgFrameRate: unspecified */
    bb_u8(b, (p->max_sub_layers << 3) | (p->temporal_id_nesting << 2) | 3);
    static const unsigned types[NAL_PS_KINDS] = {32, 33, 34};
    bb_u8(b, NAL_PS_KINDS);
    for (int k = 0; k < NAL_PS_KINDS; k++) {
        bb_u8(b, 0x80 | types[k]);  /* array_completeness: all of them are here */
        bb_u16(b, 1);
        bb_u16(b, (unsigned)v->ps_len[k]);
        bb_bytes(b, v->ps[k], v->ps_len[k]);
    }
    box_close(b, at);
}

static void video_entry(byte_buf *b, const video_config *v)
{
    size_t at = box_open(b, v->hevc ? "hvc1" : "avc1");
    visual_entry_fields(b, v->params.width, v->params.height);
    if (v->hevc)
        hvcc(b, v);
    else
        avcc(b, v);
    box_close(b, at);
}

/* An MPEG-4 descriptor header (ISO/IEC 14496-1 8.3.3); our lengths are < 128. */
static void descriptor(byte_buf *b, unsigned tag, size_t len)
{
    bb_u8(b, tag);
    bb_u8(b, (unsigned)len);
}

static void esds(byte_buf *b, const audio_config *a, uint32_t track)
{
    size_t dsi = (a->oti == 0x40) ? 2 + sizeof a->asc : 0;
    size_t dcd = 13 + dsi;
    size_t at = full_box_open(b, "esds", 0, 0);
    descriptor(b, 0x03, 3 + 2 + dcd + 3);  /* ES_Descriptor */
    bb_u16(b, track);                      /* ES_ID */
    bb_u8(b, 0);
    descriptor(b, 0x04, dcd);              /* DecoderConfigDescriptor */
    bb_u8(b, a->oti);
    bb_u8(b, (0x05 << 2) | 1);             /* streamType audio, reserved 1 */
    bb_u24(b, 0);                          /* bufferSizeDB: unknown */
    bb_u32(b, 0);                          /* maxBitrate */
    bb_u32(b, 0);                          /* avgBitrate: variable */
    if (dsi) {
        descriptor(b, 0x05, sizeof a->asc); /* DecoderSpecificInfo */
        bb_bytes(b, a->asc, sizeof a->asc);
    }
    descriptor(b, 0x06, 1);                /* SLConfigDescriptor */
    bb_u8(b, 0x02);                        /* predefined: MP4 */
    box_close(b, at);
}

static void audio_entry(byte_buf *b, const audio_config *a, uint32_t track)
{
    size_t at = box_open(b, "mp4a");
    bb_zeros(b, 6);
    bb_u16(b, 1);           /* data_reference_index */
    bb_zeros(b, 8);
    bb_u16(b, (unsigned)a->channels);
    bb_u16(b, 16);          /* samplesize */
    bb_u32(b, 0);
    /* 16.16 fixed point: rates above 65535 Hz do not fit; the esds carries them. */
    bb_u32(b, a->sample_rate <= 0xFFFF ? (uint32_t)a->sample_rate << 16 : 0);
    esds(b, a, track);
    box_close(b, at);
}

static void stbl(byte_buf *b, const video_config *v, const audio_config *a, uint32_t track)
{
    size_t at = box_open(b, "stbl");
    size_t stsd = full_box_open(b, "stsd", 0, 0);
    bb_u32(b, 1);
    if (v)
        video_entry(b, v);
    else
        audio_entry(b, a, track);
    box_close(b, stsd);
    empty_tables(b);
    box_close(b, at);
}

/* One trak: v for a video track, else a for an audio one. */
static void trak(byte_buf *b, const video_config *v, const audio_config *a, uint32_t track)
{
    size_t at = box_open(b, "trak");
    tkhd(b, track, v == NULL, v ? v->params.width : 0, v ? v->params.height : 0);
    size_t mdia = box_open(b, "mdia");
    mdhd(b, v ? 90000u : (uint32_t)a->sample_rate);
    hdlr(b, v == NULL);
    size_t minf = box_open(b, "minf");
    if (v) {
        size_t vm = full_box_open(b, "vmhd", 0, 1);
        bb_zeros(b, 8);     /* graphicsmode, opcolor */
        box_close(b, vm);
    } else {
        size_t sm = full_box_open(b, "smhd", 0, 0);
        bb_zeros(b, 4);     /* balance, reserved */
        box_close(b, sm);
    }
    dinf(b);
    stbl(b, v, a, track);
    box_close(b, minf);
    box_close(b, mdia);
    box_close(b, at);
}

static void trex(byte_buf *b, uint32_t track)
{
    size_t at = full_box_open(b, "trex", 0, 0);
    bb_u32(b, track);
    bb_u32(b, 1);           /* default_sample_description_index */
    bb_u32(b, 0);
    bb_u32(b, 0);
    bb_u32(b, 0);
    box_close(b, at);
}

void mp4_init_segment(byte_buf *b, const video_config *v, const audio_config *a)
{
    uint32_t atrack = mp4_audio_track(v != NULL);
    ftyp(b);
    size_t moov = box_open(b, "moov");
    mvhd(b, (v ? 1u : 0u) + (a ? 1u : 0u) + 1u);
    if (v)
        trak(b, v, NULL, MP4_VIDEO_TRACK);
    if (a)
        trak(b, NULL, a, atrack);
    size_t mvex = box_open(b, "mvex");
    if (v)
        trex(b, MP4_VIDEO_TRACK);
    if (a)
        trex(b, atrack);
    box_close(b, mvex);
    box_close(b, moov);
}

void mp4_styp(byte_buf *b)
{
    size_t at = box_open(b, "styp");
    bb_fourcc(b, "msdh");
    bb_u32(b, 0);
    bb_fourcc(b, "msdh");
    bb_fourcc(b, "cmfs");
    box_close(b, at);
}

size_t mp4_fragment(byte_buf *b, uint32_t seq, uint32_t track_id, int video,
                    uint64_t decode_time, const mp4_sample *s, size_t n, uint64_t data_len)
{
    size_t moof = box_open(b, "moof");
    size_t mfhd = full_box_open(b, "mfhd", 0, 0);
    bb_u32(b, seq);
    box_close(b, mfhd);
    size_t traf = box_open(b, "traf");
    /* Audio samples are all sync samples: one default instead of a flag per sample. */
    size_t tfhd = full_box_open(b, "tfhd", 0, video ? 0x020000 : 0x020020);
    bb_u32(b, track_id);
    if (!video)
        bb_u32(b, MP4_SYNC_FLAGS);
    box_close(b, tfhd);
    size_t tfdt = full_box_open(b, "tfdt", 1, 0);
    bb_u64(b, decode_time);
    box_close(b, tfdt);
    /* data offset, duration, size, and for video flags and composition offsets */
    size_t trun = full_box_open(b, "trun", 1, video ? 0x000F01 : 0x000301);
    bb_u32(b, (uint32_t)n);
    size_t data_offset = b->len;
    bb_u32(b, 0);
    for (size_t i = 0; i < n; i++) {
        bb_u32(b, s[i].duration);
        bb_u32(b, s[i].size);
        if (video) {
            bb_u32(b, s[i].flags);
            bb_u32(b, (uint32_t)s[i].cto);
        }
    }
    box_close(b, trun);
    box_close(b, traf);
    box_close(b, moof);
    size_t moof_len = b->len - moof;
    if (!b->failed)
        put_be32(b->p + data_offset, (uint32_t)(moof_len + 8));  /* from the moof's start */
    bb_u32(b, (uint32_t)(8 + data_len));
    bb_fourcc(b, "mdat");
    return moof_len;
}
