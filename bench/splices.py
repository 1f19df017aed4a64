"""What reading a file input for SCTE-35 costs before encoding starts: hlsd's scan
(hlsd.ingest.tsfile + hlsd.media.splices) beside a bare read of the same packets and
ffmpeg demuxing the file (-c copy -f null), on one MPEG-TS file with a cue in it; and
what reading a live input's costs the daemon's event loop: the same packets in the
relay's 64 KiB chunks through hlsd.media.livesplices beside the scan every chunk gets
anyway (hlsd.ingest.packets.video_starts), as CPU per second of stream; and the marking
of splice frames in such an input's timestamps (hlsd.media.ptsmark, timeline: local: every
chunk of an input with SCTE-35 is rewritten in place).

    python bench/splices.py [--seconds 600]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hlsd.ingest.packets import video_starts
from hlsd.ingest.tsfile import read_packets
from hlsd.media.livesplices import SpliceReader
from hlsd.media.ptsmark import PtsMarker
from hlsd.media.splices import LiveSplice, SpliceScanner, plan
from tests.service.test_splices_e2e import insert_cues


def make(path: Path, seconds: int) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                    f"testsrc2=size=640x360:rate=25:duration={seconds}", "-f", "lavfi", "-i",
                    f"sine=duration={seconds}", "-c:v", "libx264", "-preset", "ultrafast",
                    "-b:v", "3M", "-c:a", "aac", "-f", "mpegts", str(path)], check=True)


CHUNK = 188 * 348  # what the ingest reader hands on: 64 KiB reads, whole packets


class Count:
    def __init__(self) -> None:
        self.splices = self.errors = 0

    def splice(self, splice: LiveSplice) -> None:
        self.splices += 1

    def splice_errors(self, count: int) -> None:
        self.errors += count


def timed(action: Callable[[], object]) -> float:
    began = time.perf_counter()
    action()
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=600)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        plain, cued = Path(tmp) / "plain.ts", Path(tmp) / "cued.ts"
        make(plain, args.seconds)
        insert_cues(plain, cued)
        size = cued.stat().st_size / 1e6
        scanner = SpliceScanner()

        def scan() -> None:
            read_packets(cued, scanner.feed)
            scanner.finish()

        figures = {
            "read packets only": timed(lambda: read_packets(cued, lambda _: None)),
            "hlsd SCTE-35 scan": timed(scan),
            "ffmpeg demux (-c copy -f null)": timed(lambda: subprocess.run(
                ["ffmpeg", "-v", "error", "-i", str(cued), "-map", "0:v", "-map", "0:a",
                 "-c", "copy", "-f", "null", "-"], check=True)),
        }
        print(f"{args.seconds} s of 3 Mbit/s video + audio: {size:.0f} MB, breaks found: "
              f"{[(b.id, b.at, b.back_at) for b in plan(scanner.splices)]}, "
              f"sections skipped: {scanner.errors}")
        scan_time = figures["hlsd SCTE-35 scan"]
        for name, seconds in figures.items():
            print(f"  {name:32s} {seconds:6.3f} s  {size / seconds:7.0f} MB/s  "
                  f"x{seconds / scan_time:.2f} of the scan")
        data = cued.read_bytes()
        chunks = [memoryview(data[i:i + CHUNK]) for i in range(0, len(data), CHUNK)]
        count = Count()
        reader = SpliceReader(count, exact=False)
        writable = [memoryview(bytearray(c)) for c in chunks]
        marker = PtsMarker()
        marker.mark(90_000 * args.seconds // 2)
        live = {
            "video_starts (every chunk)": timed(lambda: [video_starts(c) for c in chunks]),
            "live SCTE-35 reader": timed(lambda: [reader.feed(c, 0.0) for c in chunks]),
            "splice frame marking": timed(lambda: [marker.rewrite(c) for c in writable]),
        }
        print(f"live input, {len(chunks)} chunks of {CHUNK} bytes: sections "
              f"{count.splices}, skipped {count.errors}")
        base = live["video_starts (every chunk)"]
        for name, seconds in live.items():
            print(f"  {name:32s} {seconds:6.3f} s  {1000 * seconds / args.seconds:6.2f} ms "
                  f"CPU per second of stream  x{seconds / base:.2f} of video_starts")


if __name__ == "__main__":
    main()
