"""Encoding a bitrate ladder: one ffmpeg per rung against one shared-decode ffmpeg; or
(--audio-rendition) audio muxed into every rung against one audio rendition.

    python bench/ladder.py [--seconds 30] [--runs 2] [--config etc/ladder.yaml]
    python bench/ladder.py --audio-rendition [--encoder-mode shared|per_rung]

The input is a ~6 Mbit/s 1080p30 H.264 + AAC MPEG-TS made once with a temporal noise
filter (so the decoder has real work, not a compressed-away test pattern) and cached
under /tmp/hlsd-bench. The ladder is the shipped example's: every rung's output options
are read from the config (its input part is replaced by `-i %s`), so what is measured
is what etc/ladder.yaml runs. Each run is the real `hlsd run` on the finite file (it
encodes as fast as it can, publishes to a temporary folder and exits), once with
`encoder_mode: per_rung` and once with `shared`, alternating so page-cache and
CPU-frequency effects hit both alike. Reported per mode: wall time, speed (source
duration / wall = × real time; above 1.0 the ladder keeps up with a live source) and
CPU seconds of everything hlsd ran (the daemon, the encoders, the segmenters), as
medians, and the ratios. This is a measurement, not a test: it asserts nothing.

--audio-rendition compares, in one encoder mode, the example's ladder as it is (every
video rung carries its own AAC, the audio-only rung too) with the same ladder demuxed:
the video rungs with -an and the audio-only rung as the one audio rendition
(`rendition: {type: audio}`), so the AAC is encoded once; besides CPU, the bytes stored
at the destination.
"""

from __future__ import annotations

import argparse
import os
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml
from noise_source import CACHE, noise_source

from hlsd import config as cfg
from hlsd.encode.ffmpeg import ffmpeg_version, split_input

EXAMPLE = Path(__file__).resolve().parent.parent / "etc" / "ladder.yaml"
MODES = ("per_rung", "shared")
AUDIO_LAYOUTS = ("muxed", "rendition")
# Output options that configure the audio encoder (each takes a value).
AUDIO_OPTIONS = {"-c:a", "-codec:a", "-acodec", "-b:a", "-ab", "-ac", "-ar", "-profile:a",
                 "-q:a", "-aq"}


def make_input(seconds: int) -> Path:
    return noise_source("ladder", seconds, "alls=20:allf=t")


def probe_duration(path: Path) -> float:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration",
                          "-of", "csv=p=0", str(path)],
                         capture_output=True, text=True, check=True).stdout
    return float(out.strip())


def ladder_profiles(example: Path) -> dict[str, dict[str, object]]:
    """The example's encoding profiles with their input part replaced by `-i %s`."""
    config = cfg.load(example)  # the shipped example must be valid to be worth measuring
    profiles: dict[str, dict[str, object]] = {}
    for profile in config.encoding_profiles:
        _, outputs = split_input(shlex.split(profile.ffmpeg_command))
        section: dict[str, object] = {"ffmpeg_command": f"ffmpeg -i %s {shlex.join(outputs)}"}
        if profile.bandwidth is not None:
            section["bandwidth"] = profile.bandwidth
        profiles[profile.name] = section
    return profiles


def demuxed(profiles: dict[str, dict[str, object]]) -> dict[str, dict[str, object]]:
    """The ladder with one audio rendition: the first audio-only profile (-vn) becomes it,
    every other profile loses its audio options and gets -an."""
    out: dict[str, dict[str, object]] = {}
    audio = next((n for n, p in profiles.items()
                  if "-vn" in shlex.split(str(p["ffmpeg_command"]))), None)
    if audio is None:
        raise SystemExit("--audio-rendition needs an audio-only (-vn) profile in the ladder")
    for name, profile in profiles.items():
        argv = shlex.split(str(profile["ffmpeg_command"]))
        if name == audio:
            out[name] = {**profile, "rendition": {"type": "audio", "language": "en",
                                                  "name": "English"}}
            continue
        kept, skip = [], False
        for arg in argv:
            if skip:
                skip = False
            elif arg in AUDIO_OPTIONS:
                skip = True
            else:
                kept.append(arg)
        kept[-3:-3] = ["-an"]  # before -f mpegts -
        out[name] = {**profile, "ffmpeg_command": shlex.join(kept)}
    return out


@dataclass(frozen=True)
class Sample:
    wall: float
    cpu: float
    segments: int
    stored: int = 0  # bytes at the destination


def run_hlsd(work: Path, source: Path, mode: str, segment_length: float,
             profiles: dict[str, dict[str, object]]) -> Sample:
    """One `hlsd run` over the whole file; wall time and the CPU time of its process tree."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    config = work / "ladder.yaml"
    config.write_text(yaml.safe_dump({
        "temp_dir": str(work / "work"), "input_location": str(source), "live": False,
        "segment_length": segment_length, "index_segment_count": 0, "log_level": "WARN",
        "encoder_mode": mode, "encoding_profile": list(profiles),
        "transfer_profile": "local",
        "local": {"transfer_type": "copy", "directory": str(work / "www")},
        **profiles,
    }, sort_keys=False))
    log = work / "hlsd.log"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with log.open("wb") as out:
        done = subprocess.run([sys.executable, "-m", "hlsd", "run", str(config)],
                              stdout=out, stderr=subprocess.STDOUT, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        kept = CACHE / f"failed-{mode}-{int(time.time())}.log"
        shutil.copyfile(log, kept)
        raise RuntimeError(f"hlsd run ({mode}) exited {done.returncode}; its log: {kept}")
    counts = {name: len(list((work / "www").glob(f"live_{name}-*.ts"))) for name in profiles}
    if len(set(counts.values())) != 1:
        print(f"  warning: {mode}: rungs have different segment counts {counts}",
              file=sys.stderr)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    stored = sum(f.stat().st_size for f in (work / "www").iterdir())
    return Sample(wall, cpu, max(counts.values()), stored)


def compare_audio(source: Path, duration: float, runs: int, mode: str,
                  segment_length: float, profiles: dict[str, dict[str, object]]) -> None:
    """Muxed audio against one audio rendition, in encoder mode `mode`."""
    ladders = {"muxed": profiles, "rendition": demuxed(profiles)}
    samples: dict[str, list[Sample]] = {layout: [] for layout in AUDIO_LAYOUTS}
    with tempfile.TemporaryDirectory(prefix="hlsd-bench-ladder-") as tmp:
        for i in range(runs):
            for layout in AUDIO_LAYOUTS:
                sample = run_hlsd(Path(tmp) / layout, source, mode, segment_length,
                                  ladders[layout])
                samples[layout].append(sample)
                print(f"  run {i + 1} {layout:9s}: {sample.wall:6.2f} s wall, "
                      f"{sample.cpu:6.2f} CPU-s, {sample.stored / 1e6:6.2f} MB stored",
                      flush=True)
    cpu = {lay: statistics.median(s.cpu for s in samples[lay]) for lay in AUDIO_LAYOUTS}
    wall = {lay: statistics.median(s.wall for s in samples[lay]) for lay in AUDIO_LAYOUTS}
    stored = {lay: statistics.median(s.stored for s in samples[lay]) for lay in AUDIO_LAYOUTS}
    print()
    print(f"encoder_mode {mode}: {'audio':10s} {'wall s':>8s} {'CPU-s':>8s} "
          f"{'CPU-s per s':>12s} {'MB stored':>10s}   (median of {runs})")
    for lay in AUDIO_LAYOUTS:
        print(f"{'':{len(mode) + 14}s}{lay:10s} {wall[lay]:8.2f} {cpu[lay]:8.1f} "
              f"{cpu[lay] / duration:12.2f} {stored[lay] / 1e6:10.2f}")
    print(f"rendition / muxed: CPU {cpu['rendition'] / cpu['muxed']:.3f}× "
          f"({100 * (1 - cpu['rendition'] / cpu['muxed']):.1f} % less CPU), "
          f"stored {stored['rendition'] / stored['muxed']:.3f}×")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=30, help="input length")
    parser.add_argument("--runs", type=int, default=2, help="runs per mode")
    parser.add_argument("--config", type=Path, default=EXAMPLE,
                        help="the ladder whose profiles are measured")
    parser.add_argument("--audio-rendition", action="store_true",
                        help="compare audio muxed into every rung with one audio rendition")
    parser.add_argument("--encoder-mode", choices=MODES, default="shared",
                        help="the encoder mode of --audio-rendition's runs")
    args = parser.parse_args()

    source = make_input(args.seconds)
    duration = probe_duration(source)
    bitrate = source.stat().st_size * 8 / duration / 1e6
    profiles = ladder_profiles(args.config)
    segment_length = float(yaml.safe_load(args.config.read_text()).get("segment_length", 4))
    print(f"input: {source} ({duration:.1f} s, {bitrate:.1f} Mbit/s)")
    print(f"ladder: {', '.join(profiles)} from {args.config}")
    print(f"ffmpeg {ffmpeg_version('ffmpeg')}; {os.cpu_count()} CPUs; "
          f"load average before: {os.getloadavg()[0]:.2f}")

    subprocess.run(["cat", str(source)], stdout=subprocess.DEVNULL, check=True)  # warm
    if args.audio_rendition:
        compare_audio(source, duration, args.runs, args.encoder_mode, segment_length, profiles)
        return 0
    samples: dict[str, list[Sample]] = {mode: [] for mode in MODES}
    with tempfile.TemporaryDirectory(prefix="hlsd-bench-ladder-") as tmp:
        for i in range(args.runs):
            for mode in MODES:
                sample = run_hlsd(Path(tmp) / mode, source, mode, segment_length, profiles)
                samples[mode].append(sample)
                print(f"  run {i + 1} {mode:8s}: {sample.wall:6.2f} s wall, "
                      f"{duration / sample.wall:5.2f}× real time, {sample.cpu:6.2f} CPU-s, "
                      f"{sample.segments} segments per rung", flush=True)

    wall = {m: statistics.median(s.wall for s in samples[m]) for m in MODES}
    cpu = {m: statistics.median(s.cpu for s in samples[m]) for m in MODES}
    speed = {m: duration / wall[m] for m in MODES}
    print(f"load average after: {os.getloadavg()[0]:.2f} (other work on the machine "
          "slows the wall figures; CPU seconds are less affected)")
    print()
    print(f"{'mode':10s} {'wall s':>8s} {'× real time':>12s} {'CPU-s':>8s} "
          f"{'CPU-s per s':>12s}   (median of {args.runs})")
    for m in MODES:
        print(f"{m:10s} {wall[m]:8.2f} {speed[m]:12.2f} {cpu[m]:8.1f} "
              f"{cpu[m] / duration:12.2f}")
    faster = max(MODES, key=lambda m: speed[m])
    print(f"shared / per_rung: speed {speed['shared'] / speed['per_rung']:.2f}×, "
          f"CPU {cpu['shared'] / cpu['per_rung']:.2f}× "
          f"({100 * (1 - cpu['shared'] / cpu['per_rung']):.0f} % less CPU)")
    print(f"faster: {faster}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
