#include "codec.h"

#include <stdio.h>
#include <string.h>

#include "bits.h"

#define SPS_MAX 1024

static void skip_scaling_list(bit_reader *br, int size)
{
    int last = 8, next = 8;
    for (int j = 0; j < size && !br->overrun; j++) {
        if (next != 0) {
            int32_t delta = br_se(br);
            next = (int)((last + delta + 256) % 256);
            if (next < 0)
                next += 256;
        }
        last = (next == 0) ? last : next;
    }
}

static int h264_high_profile(unsigned p)
{
    static const unsigned list[] = {100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135};
    for (size_t i = 0; i < sizeof list / sizeof list[0]; i++)
        if (list[i] == p)
            return 1;
    return 0;
}

/* The high profiles' chroma format, bit depths and scaling lists (skipped). */
static int h264_chroma_info(bit_reader *br, unsigned *chroma, unsigned *separate_planes,
                            unsigned *depth_luma, unsigned *depth_chroma)
{
    *chroma = br_ue(br);
    if (*chroma > 3)
        return -1;
    if (*chroma == 3)
        *separate_planes = br_u(br, 1);
    *depth_luma = br_ue(br);
    *depth_chroma = br_ue(br);
    if (*depth_luma > 6 || *depth_chroma > 6)
        return -1;
    br_u(br, 1);   /* qpprime_y_zero_transform_bypass_flag */
    if (br_u(br, 1)) {  /* seq_scaling_matrix_present_flag */
        int lists = (*chroma != 3) ? 8 : 12;
        for (int i = 0; i < lists && !br->overrun; i++)
            if (br_u(br, 1))
                skip_scaling_list(br, i < 6 ? 16 : 64);
    }
    return 0;
}

int h264_parse_sps(const uint8_t *nal, size_t len, video_params *out)
{
    uint8_t rbsp[SPS_MAX];
    if (len < 4)
        return -1;
    if (len > SPS_MAX)
        len = SPS_MAX;
    size_t n = nal_unescape(rbsp, nal, len);
    bit_reader br;
    br_init(&br, rbsp + 1, n - 1);  /* skip the NAL header byte */
    unsigned profile = br_u(&br, 8);
    unsigned constraints = br_u(&br, 8);
    unsigned level = br_u(&br, 8);
    br_ue(&br);  /* seq_parameter_set_id */
    unsigned chroma = 1, separate_planes = 0, depth_luma = 0, depth_chroma = 0;
    if (h264_high_profile(profile) &&
        h264_chroma_info(&br, &chroma, &separate_planes, &depth_luma, &depth_chroma) < 0)
        return -1;
    br_ue(&br);  /* log2_max_frame_num_minus4 */
    unsigned poc_type = br_ue(&br);
    if (poc_type == 0) {
        br_ue(&br);
    } else if (poc_type == 1) {
        br_u(&br, 1);
        br_se(&br);
        br_se(&br);
        unsigned cycle = br_ue(&br);
        if (cycle > 255)
            return -1;
        for (unsigned i = 0; i < cycle && !br.overrun; i++)
            br_se(&br);
    } else if (poc_type != 2) {
        return -1;
    }
    br_ue(&br);     /* max_num_ref_frames */
    br_u(&br, 1);   /* gaps_in_frame_num_value_allowed_flag */
    uint32_t w_mbs = br_ue(&br) + 1;
    uint32_t h_map = br_ue(&br) + 1;
    unsigned frame_mbs_only = br_u(&br, 1);
    if (!frame_mbs_only)
        br_u(&br, 1);   /* mb_adaptive_frame_field_flag */
    br_u(&br, 1);       /* direct_8x8_inference_flag */
    uint32_t crop_l = 0, crop_r = 0, crop_t = 0, crop_b = 0;
    if (br_u(&br, 1)) {
        crop_l = br_ue(&br);
        crop_r = br_ue(&br);
        crop_t = br_ue(&br);
        crop_b = br_ue(&br);
    }
    if (br.overrun || w_mbs > 1024 || h_map > 1024)
        return -1;
    unsigned array_type = separate_planes ? 0 : chroma;
    unsigned sub_w = (array_type == 1 || array_type == 2) ? 2 : 1;
    unsigned sub_h = (array_type == 1) ? 2 : 1;
    uint64_t unit_x = sub_w;
    uint64_t unit_y = (uint64_t)sub_h * (2 - frame_mbs_only);
    int64_t width = (int64_t)w_mbs * 16 - (int64_t)(unit_x * ((uint64_t)crop_l + crop_r));
    int64_t height = (int64_t)h_map * 16 * (2 - frame_mbs_only)
                     - (int64_t)(unit_y * ((uint64_t)crop_t + crop_b));
    if (width <= 0 || height <= 0)
        return -1;
    memset(out, 0, sizeof *out);
    snprintf(out->codec, sizeof out->codec, "avc1.%02x%02x%02x", profile, constraints, level);
    out->width = (int)width;
    out->height = (int)height;
    out->chroma_format = chroma;
    out->bit_depth_luma = depth_luma;
    out->bit_depth_chroma = depth_chroma;
    out->profile_idc = profile;
    out->level_idc = level;
    return 0;
}

/* profile_tier_level(1, max_sub_layers_minus1): the general part is kept. */
static void hevc_ptl(bit_reader *br, unsigned max_sub_layers_minus1, video_params *p)
{
    p->profile_space = br_u(br, 2);
    p->tier = br_u(br, 1);
    p->profile_idc = br_u(br, 5);
    p->compat_flags = br_u(br, 32);
    for (int i = 0; i < 6; i++)
        p->constraint_flags[i] = (uint8_t)br_u(br, 8);
    p->level_idc = br_u(br, 8);
    unsigned prof_present[8] = {0}, level_present[8] = {0};
    for (unsigned i = 0; i < max_sub_layers_minus1; i++) {
        prof_present[i] = br_u(br, 1);
        level_present[i] = br_u(br, 1);
    }
    if (max_sub_layers_minus1 > 0)
        for (unsigned i = max_sub_layers_minus1; i < 8; i++)
            br_u(br, 2);
    for (unsigned i = 0; i < max_sub_layers_minus1; i++) {
        if (prof_present[i])
            br_skip(br, 88);
        if (level_present[i])
            br_skip(br, 8);
    }
}

/* ISO/IEC 14496-15 Annex E: profile space letter + profile, compatibility flags in
 * reverse bit order, tier letter + level, constraint bytes without trailing zeros. */
static void hevc_codec_string(video_params *p)
{
    uint32_t reversed = 0;
    for (int i = 0; i < 32; i++)
        if (p->compat_flags & (1u << i))
            reversed |= 1u << (31 - i);
    static const char *const spaces[] = {"", "A", "B", "C"};
    int pos = snprintf(p->codec, sizeof p->codec, "hvc1.%s%u.%X.%c%u", spaces[p->profile_space],
                       p->profile_idc, (unsigned)reversed, p->tier ? 'H' : 'L', p->level_idc);
    int last = 5;
    while (last >= 0 && p->constraint_flags[last] == 0)
        last--;
    for (int i = 0; i <= last && pos > 0 && (size_t)pos < sizeof p->codec; i++)
        pos += snprintf(p->codec + pos, sizeof p->codec - (size_t)pos, ".%X",
                        p->constraint_flags[i]);
}

int hevc_parse_sps(const uint8_t *nal, size_t len, video_params *out)
{
    uint8_t rbsp[SPS_MAX];
    if (len < 16)
        return -1;
    if (len > SPS_MAX)
        len = SPS_MAX;
    size_t n = nal_unescape(rbsp, nal, len);
    bit_reader br;
    br_init(&br, rbsp + 2, n - 2);  /* skip the two-byte NAL header */
    br_u(&br, 4);                   /* sps_video_parameter_set_id */
    unsigned max_sub_layers_minus1 = br_u(&br, 3);
    unsigned nesting = br_u(&br, 1);
    video_params p;
    memset(&p, 0, sizeof p);
    hevc_ptl(&br, max_sub_layers_minus1, &p);
    br_ue(&br);  /* sps_seq_parameter_set_id */
    unsigned chroma = br_ue(&br);
    if (chroma > 3)
        return -1;
    unsigned separate_planes = 0;
    if (chroma == 3)
        separate_planes = br_u(&br, 1);
    uint32_t width = br_ue(&br);
    uint32_t height = br_ue(&br);
    uint32_t crop_l = 0, crop_r = 0, crop_t = 0, crop_b = 0;
    if (br_u(&br, 1)) {
        crop_l = br_ue(&br);
        crop_r = br_ue(&br);
        crop_t = br_ue(&br);
        crop_b = br_ue(&br);
    }
    unsigned depth_luma = br_ue(&br), depth_chroma = br_ue(&br);
    if (br.overrun || width == 0 || height == 0 || width > 16888 || height > 16888 ||
        depth_luma > 8 || depth_chroma > 8 || max_sub_layers_minus1 > 6)
        return -1;
    unsigned array_type = separate_planes ? 0 : chroma;
    uint64_t sub_w = (array_type == 1 || array_type == 2) ? 2 : 1;
    uint64_t sub_h = (array_type == 1) ? 2 : 1;
    int64_t w = (int64_t)width - (int64_t)(sub_w * ((uint64_t)crop_l + crop_r));
    int64_t h = (int64_t)height - (int64_t)(sub_h * ((uint64_t)crop_t + crop_b));
    if (w <= 0 || h <= 0)
        return -1;
    p.width = (int)w;
    p.height = (int)h;
    p.chroma_format = chroma;
    p.bit_depth_luma = depth_luma;
    p.bit_depth_chroma = depth_chroma;
    p.max_sub_layers = max_sub_layers_minus1 + 1;
    p.temporal_id_nesting = nesting;
    hevc_codec_string(&p);
    *out = p;
    return 0;
}

static const int adts_rates[16] = {96000, 88200, 64000, 48000, 44100, 32000, 24000,
                                   22050, 16000, 12000, 11025, 8000, 7350, 0, 0, 0};

int adts_frame(const uint8_t *data, size_t len, audio_frame *out)
{
    if (len < 7)
        return -1;
    const uint8_t *h = data;
    if (h[0] != 0xFF || (h[1] & 0xF6) != 0xF0)
        return -1;
    unsigned rate_index = (h[2] >> 2) & 0x0F;
    int rate = adts_rates[rate_index];
    size_t flen = ((size_t)(h[3] & 0x03) << 11) | ((size_t)h[4] << 3) | (h[5] >> 5);
    size_t header = (h[1] & 0x01) ? 7 : 9;  /* protection_absent = 0: a CRC follows */
    if (rate == 0 || flen < header)
        return -1;
    memset(out, 0, sizeof *out);
    out->length = flen;
    out->header = header;
    out->samples = 1024u * ((h[6] & 0x03) + 1u);
    out->sample_rate = rate;
    out->object_type = ((h[2] >> 6) & 0x03) + 1u;
    out->rate_index = rate_index;
    out->channel_config = ((h[2] & 0x01u) << 2) | (h[3] >> 6);
    out->channels = (out->channel_config == 7) ? 8 : (int)out->channel_config;
    return flen <= len ? 1 : 0;
}

uint64_t adts_walk(const uint8_t *data, size_t len, audio_params *first)
{
    uint64_t samples = 0;
    int rate = 0;
    size_t pos = 0;
    audio_frame f;
    while (adts_frame(data + pos, len - pos, &f) == 1) {
        if (rate == 0) {
            rate = f.sample_rate;
            if (first) {
                snprintf(first->codec, sizeof first->codec, "mp4a.40.%u", f.object_type);
                first->sample_rate = f.sample_rate;
                first->channels = f.channels;
            }
        } else if (f.sample_rate != rate) {
            break;
        }
        samples += f.samples;
        pos += f.length;
    }
    return rate ? samples * 90000u / (uint64_t)rate : 0;
}

/* MPEG audio layer I/II/III frame header -> frame length, samples and params. */
static int mpa_header(const uint8_t *h, audio_frame *f)
{
    static const unsigned short kbps[2][3][15] = {
        {   /* MPEG-1: layer I, II, III */
            {0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448},
            {0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384},
            {0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320},
        },
        {   /* MPEG-2 and 2.5 */
            {0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256},
            {0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160},
            {0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160},
        },
    };
    static const unsigned rates[3] = {44100, 48000, 32000};
    if (h[0] != 0xFF || (h[1] & 0xE0) != 0xE0)
        return -1;
    unsigned version = (h[1] >> 3) & 3;   /* 3: MPEG-1, 2: MPEG-2, 0: MPEG-2.5 */
    unsigned layer_bits = (h[1] >> 1) & 3; /* 3: I, 2: II, 1: III */
    unsigned br_idx = h[2] >> 4, sr_idx = (h[2] >> 2) & 3, pad = (h[2] >> 1) & 1;
    if (version == 1 || layer_bits == 0 || br_idx == 0 || br_idx == 15 || sr_idx == 3)
        return -1;
    memset(f, 0, sizeof *f);
    unsigned layer = 4 - layer_bits;      /* 1, 2, 3 */
    unsigned mpeg1 = (version == 3);
    unsigned rate = rates[sr_idx] >> (mpeg1 ? 0 : (version == 2 ? 1 : 2));
    unsigned long bitrate = kbps[mpeg1 ? 0 : 1][layer - 1][br_idx] * 1000ul;
    if (layer == 1) {
        f->length = (12 * bitrate / rate + pad) * 4;
        f->samples = 384;
    } else if (layer == 2 || mpeg1) {
        f->length = 144 * bitrate / rate + pad;
        f->samples = 1152;
    } else {
        f->length = 72 * bitrate / rate + pad;
        f->samples = 576;
    }
    f->sample_rate = (int)rate;
    f->channels = ((h[3] >> 6) == 3) ? 1 : 2;
    f->object_type = layer;
    f->mpeg1 = (int)mpeg1;
    return f->length < 4 ? -1 : 0;
}

int mpa_frame(const uint8_t *data, size_t len, audio_frame *out)
{
    if (len < 4 || mpa_header(data, out) < 0)
        return -1;
    return out->length <= len ? 1 : 0;
}

uint64_t mpa_walk(const uint8_t *data, size_t len, audio_params *first)
{
    uint64_t samples = 0;
    int rate = 0;
    size_t pos = 0;
    audio_frame f;
    while (mpa_frame(data + pos, len - pos, &f) == 1 && (rate == 0 || f.sample_rate == rate)) {
        if (rate == 0 && first) {
            snprintf(first->codec, sizeof first->codec, "mp4a.40.%u", 31 + f.object_type);
            first->sample_rate = f.sample_rate;
            first->channels = f.channels;
        }
        rate = f.sample_rate;
        samples += f.samples;
        pos += f.length;
    }
    return rate ? samples * 90000u / (uint64_t)rate : 0;
}
