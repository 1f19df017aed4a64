"""Throughput of hlsd-segmenter against ffmpeg's copy segmenters, all fed from a pipe.

    python bench/segmenter.py [--seconds 60] [--runs 5] [--duration 4] [--formats ts,fmp4]

The input is a ~6 Mbit/s 1080p H.264 + AAC MPEG-TS made once with a temporal noise
filter (so the bitrate is real, not a compressed-away test pattern) and cached under
/tmp/hlsd-bench. Each run is `cat INPUT | <segmenter>` writing segments into a
temporary directory; the contenders alternate so that page-cache and CPU-frequency
effects hit them alike. Each format is measured against ffmpeg doing the same job:
TS segments against `-c copy -f segment`, fMP4 (`--format fmp4`) against `-c copy -f hls
-hls_segment_type fmp4`. `cat INPUT | cat > FILE` is the physical limit of the pipe
and the file system. Reported: median MB/s per contender, ratios, peak RSS of the
segmenter on the whole input and on its first half (memory must not grow with length).
This is a measurement, not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from noise_source import noise_source

from hlsd.encode.segmenter import resolve

MB = 1e6
PIPE = "cat | cat"
# per format: (our contender, ffmpeg's)
NAMES = {
    "ts": ("hlsd-segmenter", "ffmpeg -c copy -f segment"),
    "fmp4": ("hlsd-segmenter --format fmp4", "ffmpeg -c copy -f hls fmp4"),
}


def make_input(seconds: int) -> Path:
    return noise_source("h264", seconds, "alls=30:allf=t+u")


def piped(source: Path, consumer: list[str], stdout_path: Path | None = None) -> float:
    """Seconds for `cat source | consumer` until both have exited."""
    with open(stdout_path or os.devnull, "wb") as out:
        start = time.perf_counter()
        cat = subprocess.Popen(["cat", str(source)], stdout=subprocess.PIPE)
        assert cat.stdout is not None
        proc = subprocess.Popen(consumer, stdin=cat.stdout, stdout=out,
                                stderr=subprocess.DEVNULL)
        cat.stdout.close()  # the consumer holds the only read end now
        proc.wait()
        cat.wait()
        elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{consumer[0]} exited {proc.returncode}")
    return elapsed


def peak_rss_mb(source: Path, consumer: list[str]) -> float | None:
    """Peak RSS of the consumer, via GNU time (a child forked from this Python process
    would report Python's own high-water mark); None without /usr/bin/time."""
    gnu_time = shutil.which("time") or ("/usr/bin/time" if Path("/usr/bin/time").exists() else None)
    if gnu_time is None:
        return None
    with tempfile.NamedTemporaryFile("r") as report, source.open("rb") as src:
        subprocess.run([gnu_time, "-f", "%M", "-o", report.name, *consumer], stdin=src,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        return int(report.read().split()[-1]) / 1024


def fresh_dir(parent: Path, name: str) -> Path:
    path = parent / name
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir()
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60, help="input length (60-120)")
    parser.add_argument("--runs", type=int, default=5, help="runs per contender")
    parser.add_argument("--duration", type=float, default=4.0, help="segment length")
    parser.add_argument("--formats", default="ts,fmp4", help="ts, fmp4 or both (comma)")
    args = parser.parse_args()
    formats = [f for f in args.formats.split(",") if f]
    if not formats or any(f not in NAMES for f in formats):
        parser.error("--formats: ts, fmp4 or ts,fmp4")

    source = make_input(args.seconds)
    size = source.stat().st_size
    binary = resolve("hlsd-segmenter")  # the native binary, as the daemon runs it
    bitrate = size * 8 / args.seconds / 1e6
    print(f"input: {source} ({size / MB:.1f} MB, {bitrate:.1f} Mbit/s)")
    print(f"segmenter: {binary}")

    with tempfile.TemporaryDirectory(prefix="hlsd-bench-") as tmp:
        work = Path(tmp)
        half = work / "half.ts"
        with source.open("rb") as src, half.open("wb") as dst:
            dst.write(src.read((size // 2 // 188) * 188))

        def hlsd_argv(fmt: str, out: Path) -> list[str]:
            return [binary, "--duration", str(args.duration), "--dir", str(out),
                    "--prefix", "seg", "--format", fmt]

        def ffmpeg_argv(fmt: str, out: Path) -> list[str]:
            head = ["ffmpeg", "-v", "error", "-f", "mpegts", "-i", "pipe:0", "-map", "0",
                    "-c", "copy"]
            if fmt == "ts":
                return [*head, "-f", "segment", "-segment_time", str(args.duration),
                        "-segment_format", "mpegts", str(out / "seg-%05d.ts")]
            # ffmpeg 5.x wants the ADTS headers stripped by hand (newer ones insert it)
            return [*head, "-bsf:a", "aac_adtstoasc", "-f", "hls", "-hls_time", str(args.duration),
                    "-hls_segment_type", "fmp4", "-hls_playlist_type", "vod",
                    "-hls_segment_filename", str(out / "seg-%05d.m4s"), str(out / "index.m3u8")]

        def contender(argv: Callable[[str, Path], list[str]], fmt: str,
                      name: str) -> Callable[[], float]:
            return lambda: piped(source, argv(fmt, fresh_dir(work, name)))

        contenders: dict[str, Callable[[], float]] = {}
        for fmt in formats:
            ours, theirs = NAMES[fmt]
            contenders[ours] = contender(hlsd_argv, fmt, "hlsd")
            contenders[theirs] = contender(ffmpeg_argv, fmt, "ffmpeg")
        contenders[PIPE] = lambda: piped(source, ["cat"], fresh_dir(work, "cat") / "copy.ts")
        samples: dict[str, list[float]] = {name: [] for name in contenders}
        subprocess.run(["cat", str(source)], stdout=subprocess.DEVNULL, check=True)  # warm
        for _ in range(args.runs):
            for name, run in contenders.items():
                samples[name].append(run())
        rss: dict[str, tuple[float | None, float | None, float | None]] = {
            fmt: (peak_rss_mb(source, hlsd_argv(fmt, fresh_dir(work, "hlsd"))),
                  peak_rss_mb(half, hlsd_argv(fmt, fresh_dir(work, "hlsd"))),
                  peak_rss_mb(source, ffmpeg_argv(fmt, fresh_dir(work, "ffmpeg"))))
            for fmt in formats}

    rate = {name: size / MB / statistics.median(runs) for name, runs in samples.items()}
    best = {name: size / MB / min(runs) for name, runs in samples.items()}
    print(f"{'':30s} {'median':>13s} {'best':>13s}   ({args.runs} runs each)")
    for name in contenders:
        print(f"{name:30s} {rate[name]:8.1f} MB/s {best[name]:8.1f} MB/s")
    for fmt in formats:
        ours, theirs = NAMES[fmt]
        print(f"{fmt}: hlsd-segmenter / ffmpeg:     {rate[ours] / rate[theirs]:5.2f}x median, "
              f"{best[ours] / best[theirs]:5.2f}x best")
        print(f"{fmt}: hlsd-segmenter / pipe limit: {100 * rate[ours] / rate[PIPE]:5.1f} % median, "
              f"{100 * best[ours] / best[PIPE]:5.1f} % best")
        full, first_half, ffmpeg = rss[fmt]
        if full is None or first_half is None or ffmpeg is None:
            print(f"{fmt}: peak RSS: n/a (needs GNU time at /usr/bin/time)")
        else:
            print(f"{fmt}: peak RSS: hlsd-segmenter {full:.1f} MB on {args.seconds} s, "
                  f"{first_half:.1f} MB on the first half; ffmpeg {ffmpeg:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
