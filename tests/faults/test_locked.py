"""timeline: locked — two hosts on one source publish the same segments.

One live source (timestamps 10 hours in, or a few seconds before the 33-bit PTS wrap) is
sent over UDP to two daemons, the second started 7 s after the first. For every number
both list, per rung: the same URI, EXTINF and discontinuity number, and first video PTS
within a frame. One host then restarts and must go on matching.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.daemon_util import FAST_X264, hlsd_argv, wait_for
from tests.faults.harness import Hlsd, copy_profile, fault_config, free_port
from tests.hlscheck import MediaText, Segment, parse_media_text

pytestmark = [pytest.mark.e2e, pytest.mark.faults]

FPS = 25
FRAME = 90000 // FPS
WRAP = 2**33
RUNGS = {"small": "160x90", "tiny": "128x72"}
SHARED = 8  # numbers both hosts must list, per rung


def rung(size: str) -> str:
    return (f"ffmpeg -i %s -vf scale={size} {FAST_X264} -b:v 200k -c:a aac -b:a 48k "
            "-f mpegts -")


class Source:
    """`ffmpeg -re` sending one MPEG-TS stream to several UDP ports (the tee muxer), its
    timestamps starting `offset` seconds in."""

    def __init__(self, ports: list[int], offset: float, log: Path) -> None:
        outputs = "|".join(f"[f=mpegts]udp://127.0.0.1:{p}?pkt_size=1316" for p in ports)
        argv = ["ffmpeg", "-nostdin", "-v", "error", "-re", "-f", "lavfi",
                "-i", f"testsrc2=size=320x180:rate={FPS}", "-re", "-f", "lavfi",
                "-i", "sine=frequency=440:sample_rate=48000", *FAST_X264.split(),
                "-g", str(FPS), "-b:v", "500k", "-c:a", "aac", "-b:a", "64k",
                "-map", "0:v", "-map", "1:a", "-output_ts_offset", f"{offset:.3f}",
                "-f", "tee", outputs]
        with log.open("ab") as out:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=out)

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()


def first_pts(path: Path) -> int | None:
    """The first video PES PTS of a TS segment (90 kHz, as written: 33 bits)."""
    data = path.read_bytes()
    pids: set[int] = set()
    for at in range(0, len(data) - 187, 188):
        pkt = data[at:at + 188]
        pid = ((pkt[1] & 0x1F) << 8) | pkt[2]
        if pid == 0 or not pkt[1] & 0x40:
            continue
        start = 4 + (pkt[4] + 1 if pkt[3] & 0x20 else 0)
        payload = pkt[start:]
        if payload[:3] != b"\0\0\1":
            if pkt[start + 1 + payload[0]] == 0x02:  # the PMT: find the video PID
                section = payload[1 + payload[0]:]
                info = ((section[10] & 0x0F) << 8) | section[11]
                es = section[12 + info:3 + (((section[1] & 0x0F) << 8) | section[2]) - 4]
                while len(es) >= 5:
                    if es[0] in (0x1B, 0x24):
                        pids.add(((es[1] & 0x1F) << 8) | es[2])
                    es = es[5 + (((es[3] & 0x0F) << 8) | es[4]):]
            continue
        if pid in pids and 0xE0 <= payload[3] <= 0xEF and payload[7] & 0x80:
            p = payload[9:14]
            return ((p[0] >> 1 & 7) << 30 | p[1] << 22 | (p[2] >> 1) << 15 | p[3] << 7
                    | p[4] >> 1)
    return None


def ts_distance(a: int, b: int) -> int:
    d = (a - b) % WRAP
    return min(d, WRAP - d)


class Host:
    def __init__(self, name: str, tmp: Path, port: int, daemons: Any) -> None:
        self.www = tmp / name / "www"
        config = fault_config(
            tmp / f"{name}.yaml", tmp / name, {r: rung(s) for r, s in RUNGS.items()},
            {"www": copy_profile(self.www)}, timeline="locked", index_segment_count=12,
            input_location=f"udp://127.0.0.1:{port}?fifo_size=1000000&overrun_nonfatal=1")
        self.hlsd: Hlsd = daemons(config, tmp / f"{name}.log")

    def playlist(self, rung: str) -> MediaText | None:
        try:
            text = (self.www / f"live_{rung}.m3u8").read_text()
        except OSError:
            return None
        return parse_media_text(text, f"{self.hlsd.config.stem}:{rung}")

    def pts(self, segment: Segment) -> int | None:
        try:
            return first_pts(self.www / segment.uri)
        except OSError:
            return None  # deleted since the playlist was read


def shared(a: Host, b: Host, since: int = 0) -> dict[str, list[tuple[Segment, Segment]]] | None:
    """Per rung, the segments (numbered ≥ since) both hosts list now; None until every
    rung has SHARED of them."""
    pairs: dict[str, list[tuple[Segment, Segment]]] = {}
    for rung in RUNGS:
        pa, pb = a.playlist(rung), b.playlist(rung)
        if pa is None or pb is None:
            return None
        theirs = {s.msn: s for s in pb.segments}
        pairs[rung] = [(s, theirs[s.msn]) for s in pa.segments
                       if s.msn in theirs and s.msn >= since]
        if len(pairs[rung]) < SHARED:
            return None
    return pairs


def compare(a: Host, b: Host, pairs: dict[str, list[tuple[Segment, Segment]]],
            seen: list[int]) -> int:
    """Assert the hosts agree on every shared number; returns the largest PTS distance
    (and adds the PTS compared to `seen`)."""
    worst = 0
    for rung, both in pairs.items():
        for sa, sb in both:
            where = f"{rung} #{sa.msn}"
            assert (sa.uri, sa.extinf) == (sb.uri, sb.extinf), f"{where}: {sa} vs {sb}"
            assert sa.discontinuity_number == sb.discontinuity_number, f"{where}: {sa} vs {sb}"
            ta, tb = a.pts(sa), b.pts(sb)
            if ta is not None and tb is not None:
                worst = max(worst, ts_distance(ta, tb))
                seen.append(ta)
                assert ts_distance(ta, tb) < FRAME, f"{where}: first PTS {ta} vs {tb}"
    return worst


@pytest.fixture
def hosts(tmp_path: Path, daemons: Any) -> Iterator[tuple[Host, Host, list[int]]]:
    ports = [free_port(), free_port()]
    yield (Host("a", tmp_path, ports[0], daemons), Host("b", tmp_path, ports[1], daemons),
           ports)


@pytest.mark.parametrize(("offset", "scenario"), [
    (36000.0, "10 h offset"),
    (WRAP / 90000 - 24.0, "PTS wrap 22.6 s in"),
])
def test_two_hosts_list_the_same_segments(hosts: tuple[Host, Host, list[int]],
                                          tmp_path: Path, report: Any, offset: float,
                                          scenario: str) -> None:
    a, b, ports = hosts
    source = Source(ports, offset, tmp_path / "source.log")
    try:
        a.hlsd.start()
        started = time.monotonic()
        wait_for(lambda: a.playlist("small"), 40, "host a's first playlist")
        time.sleep(max(0.0, 7.0 - (time.monotonic() - started)))  # b starts 7 s after a
        b.hlsd.start()
        pairs = wait_for(lambda: shared(a, b), 60, f"{SHARED} numbers listed by both hosts")
        seen: list[int] = []
        worst = compare(a, b, pairs, seen)
        numbers = [s.msn for s, _ in pairs["small"]]

        # b restarts: it rejoins the same numbering, boundaries and discontinuity numbers.
        assert b.hlsd.stop() == 0
        b.hlsd.start()
        pairs = wait_for(lambda: shared(a, b, since=max(numbers) + 1), 60,
                         f"{SHARED} numbers listed by both hosts after b's restart")
        worst = max(worst, compare(a, b, pairs, seen))
        a.hlsd.alive()
        b.hlsd.alive()
    finally:
        source.stop()
    if offset > WRAP / 90000 / 2:  # compared on both sides of the wrap
        assert min(seen) < 60 * 90000 < WRAP - 60 * 90000 < max(seen), seen
    report(f"locked timeline, {scenario}", shared=len(numbers),
           shared_after_restart=len(pairs["small"]), worst_pts_ticks=worst,
           first_number=numbers[0])


def test_locked_needs_an_input_hlsd_opens(tmp_path: Path) -> None:
    config = fault_config(tmp_path / "c.yaml", tmp_path, {"r": rung("160x90").replace(
        "-i %s", "-f lavfi -i testsrc2")}, {"www": copy_profile(tmp_path / "www")},
        timeline="locked")
    out = subprocess.run(hlsd_argv("check", str(config)), capture_output=True, text=True)
    assert out.returncode != 0
    assert re.search(r"timeline: .*input hlsd opens", out.stdout + out.stderr)
