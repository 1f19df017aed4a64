"""Exact cut points for a live input's SCTE-35 (timeline: local): the splice frame is
marked in the input's timestamps on its way to the encoders, keyed by each, and every
segmenter is told to cut there, so every rung has a segment boundary at the splice point
and at the return, the grid going on after them."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest

from hlsd.media import scte35
from hlsd.media.parse import parse_media
from tests.daemon_util import FAST_X264, read, running, wait_for, write_config
from tests.faults.harness import free_port
from tests.fixtures.cued_udp import UdpSender, cued
from tests.service.test_control_e2e import ranges
from tests.service.test_live_splices_e2e import logged, make_source

pytestmark = pytest.mark.e2e

LENGTH = 2  # segment_length; the source has a keyframe every 2 s
EVENT = 5150
SPLICE, BREAK = 15.0, 6.0  # source seconds: off the 2 s grid; the cue sent 6 s before
FRAME = 0.041  # one frame at 25 fps, with a millisecond of rounding
RUNGS = {"hi": f"-s 320x180 {FAST_X264} -b:v 300k -c:a aac -b:a 64k",
         "lo": f"-s 160x90 {FAST_X264} -b:v 150k -c:a aac -b:a 48k",
         "aud": "-vn -c:a aac -b:a 64k"}


def start_pts(path: Path, stream: str) -> float:
    """The first PTS (seconds) of `stream` ("v:0", "a:0") in a segment."""
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", stream, "-show_entries",
                          "stream=start_time", "-of", "csv=p=0", str(path)],
                         capture_output=True, text=True, timeout=30, check=True).stdout
    return float(out.split()[0])


@pytest.mark.parametrize("mode", ["shared", "per_rung"])
def test_a_live_splice_is_a_segment_boundary_on_every_rung(tmp_path: Path, mode: str) -> None:
    """1. a 30 s H.264/AAC source (keyframes every 2 s) with a SCTE-35 PID, sent in real
       time over UDP; a splice_insert (out, break 6 s) sent at 9 s for the frame at 15 s,
       one second off the 2 s grid of every rung (whose first frame is a source keyframe)
    2. `hlsd run`, timeline: local, two video rungs and an audio-only one, 2 s segments,
       one encoder for all (shared) or one each (per_rung: each its own start time)
    3. on every rung a segment starts at the splice point and one at the return (6 s
       later), within a frame; the DATERANGE's START-DATE is that segment's PDT; every
       other boundary is on the 2 s grid; the same number starts at the same PTS (± a
       frame) on every rung; no DISCONTINUITY"""
    source = tmp_path / "source.ts"
    make_source(source)

    def sections(first: int) -> list[tuple[float, bytes]]:
        at = first + round(SPLICE * 90_000)
        section = scte35.splice_insert(EVENT, at, round(BREAK * 90_000))
        return [(SPLICE - 6.0, section), (SPLICE - 5.0, section)]

    packets = cued(source, sections)
    port = free_port(socket.SOCK_DGRAM)
    www, log = tmp_path / "www", tmp_path / "hlsd.log"
    config = write_config(
        tmp_path / "hlsd.yaml", temp_dir=str(tmp_path / "work"), live=True,
        input_location=f"udp://127.0.0.1:{port}?overrun_nonfatal=1&fifo_size=50000",
        segment_length=LENGTH, index_segment_count=30, encoding_profile=list(RUNGS),
        encoder_mode=mode,
        transfer_profile="www", www={"transfer_type": "copy", "directory": str(www)},
        **{n: {"ffmpeg_command": f"ffmpeg -i %s {o} -f mpegts -"} for n, o in RUNGS.items()})
    playlists = {rung: www / f"live_{rung}.m3u8" for rung in RUNGS}
    with running(config, log) as proc:
        wait_for(lambda: logged(log, "input reader started"), 30, "the input reader")
        sender = UdpSender(packets, port).start()
        try:
            # the return, and the segment after it complete on every rung
            assert wait_for(lambda: all(
                len(ranges(read(p), f"splice-{EVENT}")) == 2
                and (read(p) or "").split(f"splice-{EVENT}")[-1].count("#EXTINF") >= 2
                for p in playlists.values()), 60, "the break and its return", interval=0.5)
            assert proc.poll() is None
        finally:
            sender.stop()
    assert logged(log, "ad splice cut point sent")
    starts: dict[str, dict[int, float]] = {}
    cuts: dict[str, tuple[int, int]] = {}
    for rung, path in playlists.items():
        text = read(path) or ""
        assert "#EXT-X-DISCONTINUITY\n" not in text, text
        (out, out_pdt), (back, back_pdt) = ranges(text, f"splice-{EVENT}")
        assert out.start == out_pdt and back.end == back_pdt, (rung, text)
        entries = parse_media(text).entries
        stream = "a:0" if rung == "aud" else "v:0"
        pts = starts[rung] = {e.seq: start_pts(www / e.name, stream) for e in entries}
        opened = next(e.seq for e in entries if e.program_date_time == out.start)
        closed = next(e.seq for e in entries if e.program_date_time == back.end)
        cuts[rung] = opened, closed
        assert abs(pts[closed] - pts[opened] - BREAK) <= FRAME, rung
        assert closed - opened == round(BREAK / LENGTH) + 1  # a short segment before it
        first = min(pts)
        for seq, at in pts.items():  # every other boundary on the rung's own 2 s grid
            if seq not in (opened, closed):
                off = (at - pts[first]) % LENGTH
                assert min(off, LENGTH - off) <= FRAME, (rung, seq, at - pts[first])
    # The video's first frame is a source keyframe (even seconds of the source): the splice
    # is one second off its grid.
    video = starts["hi"]
    opened, closed = cuts["hi"]
    splice_at = video[opened] - video[min(video)]
    print("splice", round(splice_at, 3), "s after the first frame; every rung's cut - hi's:",
          {r: round(starts[r][cuts[r][0]] - video[opened], 3) for r in RUNGS},
          "return:", {r: round(starts[r][cuts[r][1]] - video[closed], 3) for r in RUNGS})
    assert abs((splice_at - SPLICE + 1) % LENGTH - 1) <= FRAME, splice_at
    assert len(set(cuts.values())) == 1, cuts  # the same numbers on every rung
    for rung in RUNGS:  # at the same media time, within a frame
        assert abs(starts[rung][opened] - video[opened]) <= FRAME, rung
        assert abs(starts[rung][closed] - video[closed]) <= FRAME, rung
    for seq in set(video) & set(starts["lo"]):  # the video rungs: every number
        assert abs(video[seq] - starts["lo"][seq]) <= FRAME, seq
