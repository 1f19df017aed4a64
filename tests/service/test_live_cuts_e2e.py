"""Exact cut points for a live input's SCTE-35 (timeline: local): the splice frame is
marked in the input's timestamps on its way to the encoders, keyed by each, and every
segmenter is told to cut there, so every rung has a segment boundary at the splice point
and at the return, the grid going on after them."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import pytest

from hlsd.config import DEFAULT_HLS_JS
from hlsd.media import scte35
from hlsd.media.parse import parse_media
from tests.browser import browser_page, require_browser
from tests.daemon_util import FAST_X264, read, running, wait_for, write_config
from tests.faults.harness import free_port
from tests.fixtures.cued_udp import UdpSender, cued
from tests.serve.test_playback import origin_url
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


def sections(first: int) -> list[tuple[float, bytes]]:
    """The splice_insert for the frame SPLICE s after the source's first PTS `first`, sent
    6 s and 5 s before it."""
    at = first + round(SPLICE * 90_000)
    section = scte35.splice_insert(EVENT, at, round(BREAK * 90_000))
    return [(SPLICE - 6.0, section), (SPLICE - 5.0, section)]


def live_config(tmp_path: Path, port: int, www: Path, **settings: object) -> Path:
    """timeline: local, the rungs reading the UDP source on `port`, stored in `www`."""
    return write_config(
        tmp_path / "hlsd.yaml", temp_dir=str(tmp_path / "work"), live=True,
        input_location=f"udp://127.0.0.1:{port}?overrun_nonfatal=1&fifo_size=50000",
        segment_length=LENGTH, index_segment_count=30, encoding_profile=list(RUNGS),
        transfer_profile="www", www={"transfer_type": "copy", "directory": str(www)},
        **{n: {"ffmpeg_command": f"ffmpeg -i %s {o} -f mpegts -"} for n, o in RUNGS.items()},
        **settings)


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

    packets = cued(source, sections)
    port = free_port(socket.SOCK_DGRAM)
    www, log = tmp_path / "www", tmp_path / "hlsd.log"
    config = live_config(tmp_path, port, www, encoder_mode=mode)
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


# hls.js's playing position as epoch seconds (its PDT), and the errors it reported
# hls.js's errors from now on, with its playing date and whether fatal
RECORD_ERRORS = """() => { window.cutErrors = []; const h = window.hlsd.hls;
  h.on('hlsError', (_, d) => window.cutErrors.push([d.details, d.fatal,
       h.playingDate ? h.playingDate.getTime() / 1000 : null])); }"""
PLAYING = "() => { const d = window.hlsd.hls && window.hlsd.hls.playingDate;" \
          " return d ? d.getTime() / 1000 : null; }"


@pytest.mark.browser
async def test_hls_js_plays_through_a_live_splice_cut(tmp_path: Path) -> None:
    """1. the source of the test above, 40 s, the splice point 1 s off the grid; `hlsd
       run` (shared encoder) with its HTTP origin; the player page (hls.js in Chromium)
       opened as soon as every rung has a segment, before the splice point
    2. hls.js plays through the short segment before the cut, the cut, and the return:
       its playing date passes the return + 2 s, 8 s of media (break and 2 s) played in
       at most 8 + 2 s of wall time (no stall), no stall, buffer or fatal error reported
       while it plays from a segment before the cut to 2 s past the return, no page
       error"""
    require_browser()
    source = tmp_path / "source.ts"
    make_source(source, 40)

    port = free_port(socket.SOCK_DGRAM)
    www, log = tmp_path / "www", tmp_path / "hlsd.log"
    config = live_config(tmp_path, port, www, encoder_mode="shared",
                         http={"listen": "127.0.0.1", "port": 0})
    playlist = www / "live_hi.m3u8"
    with running(config, log) as proc:
        url = wait_for(lambda: origin_url(log), 30, "the http origin")
        sender = UdpSender(cued(source, sections), port).start()
        try:
            wait_for(lambda: all((www / f"live_{r}.m3u8").exists() for r in RUNGS), 30,
                     "a segment on every rung")
            async with browser_page(serve_hlsjs_at=DEFAULT_HLS_JS) as b:
                await b.page.goto(url)
                await b.page.wait_for_function(PLAYING, timeout=30_000)
                await b.page.evaluate(RECORD_ERRORS)
                (out, _), (back, _) = wait_for(
                    lambda: (r := ranges(read(playlist), f"splice-{EVENT}")) and len(r) == 2
                    and r, 40, "the break and its return")
                assert back.end is not None
                # the playing date at the break's start, then 2 s past its return
                await b.page.wait_for_function(
                    f"() => ({PLAYING})() >= {out.start.timestamp()}", polling=50,
                    timeout=30_000)
                entered = time.monotonic()
                await b.page.wait_for_function(
                    f"() => ({PLAYING})() >= {back.end.timestamp() + 2}", polling=50,
                    timeout=30_000)
                crossed = time.monotonic() - entered
                errors = await b.page.evaluate("window.cutErrors")
                assert b.errors == [] and proc.poll() is None
        finally:
            sender.stop()
    played = (back.end - out.start).total_seconds() + 2
    print("break + 2 s of media played in", round(crossed, 2), "s; hls.js errors meanwhile:",
          [(d, f, None if t is None else round(t - out.start.timestamp(), 2))
           for d, f, t in errors], "break", (back.end - out.start).total_seconds())
    assert crossed <= played + 2.0, crossed
    # around the cuts (its start-up, seconds before, may stall while the stream begins)
    near = [e for e in errors if e[2] is None
            or out.start.timestamp() - LENGTH <= e[2] <= back.end.timestamp() + 2]
    assert not [e for e in near if "stall" in e[0].lower() or "buffer" in e[0].lower()
                or e[1]], errors
