#!/bin/sh
# Builds the libFuzzer harness (clang, ASan+UBSan) and fuzzes for SECONDS (default 60).
# Seeds are tiny MPEG-TS files made by ffmpeg in a temporary directory; crash inputs
# land in $FUZZ_ARTIFACTS (default: ext/fuzz/build/, which git ignores). Exit status:
# 0 when nothing was found, nonzero on a crash, leak, timeout or sanitizer report.
set -eu
secs=${1:-60}
here=$(cd "$(dirname "$0")" && pwd)
make -C "$here/.." fuzz >&2

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM
mkdir "$work/corpus"

# seed NAME MODE-BYTE(octal) FFMPEG-ARGS...: the harness reads its options from byte 0.
seed() {
    name=$1 mode=$2
    shift 2
    if ffmpeg -v error -y "$@" -f mpegts "$work/$name.ts" 2>/dev/null; then
        { printf "\\$mode"; cat "$work/$name.ts"; } > "$work/corpus/$name"
    fi
    rm -f "$work/$name.ts"
}
if command -v ffmpeg >/dev/null 2>&1; then
    v="-f lavfi -i testsrc2=size=64x64:rate=10"
    a="-f lavfi -i sine=frequency=440:sample_rate=22050"
    seed h264_aac 021 $v $a -t 1.2 -c:v libx264 -g 4 -bf 2 -c:a aac -b:a 24k
    seed h264 312 $v -t 1 -c:v libx264 -g 5 -preset ultrafast
    seed hevc_aac 041 $v $a -t 0.8 -c:v libx265 -x265-params log-level=none:keyint=4 -c:a aac -b:a 24k
    seed aac 002 $a -t 1 -c:a aac -b:a 24k
    seed mp3 253 $a -t 1 -c:a libmp3lame -b:a 32k
    seed wrap 021 $v $a -t 1 -c:v libx264 -g 3 -c:a aac -b:a 24k -output_ts_offset 95443.5
    # the same inputs with bit 6 set: --format fmp4
    seed h264_aac_fmp4 121 $v $a -t 1.2 -c:v libx264 -g 4 -bf 2 -c:a aac -b:a 24k
    seed h264_fmp4 152 $v -t 1 -c:v libx264 -g 5 -preset ultrafast
    seed h264_aac_parts 131 $v $a -t 1.5 -c:v libx264 -g 8 -bf 2 -c:a aac -b:a 24k
    seed hevc_aac_fmp4 141 $v $a -t 0.8 -c:v libx265 -x265-params log-level=none:keyint=4 -c:a aac -b:a 24k
    seed aac_fmp4 102 $a -t 1 -c:a aac -b:a 24k
    seed mp3_fmp4 153 $a -t 1 -c:a libmp3lame -b:a 32k
    seed wrap_fmp4 321 $v $a -t 1 -c:v libx264 -g 3 -c:a aac -b:a 24k -output_ts_offset 95443.5
fi
printf '\001G' > "$work/corpus/tiny"

artifacts=${FUZZ_ARTIFACTS:-$here/build}
mkdir -p "$artifacts"
"$here/build/fuzz_segmenter" -artifact_prefix="$artifacts/" -max_total_time="$secs" \
    -max_len=65536 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 "$work/corpus"
