"""SCTE-35 from a live UDP input end to end: the relay keeps the SCTE-35 PID, the ingest
stage reads its sections, and a splice_insert becomes the same #EXT-X-DATERANGE on every
rung, opening on the first segment boundary at or after the splice point."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from hlsd.media import scte35
from hlsd.media.parse import parse_media
from hlsd.media.sections import crc32_mpeg2
from tests.daemon_util import FAST_X264, read, running, wait_for, write_config
from tests.faults.harness import free_port
from tests.fixtures.cued_udp import UdpSender, cued
from tests.serve.test_playback import origin_url
from tests.service.test_control_e2e import ranges

pytestmark = pytest.mark.e2e

LENGTH = 2  # segment_length
EVENT, CANCELLED = 4242, 4243
SPLICE, BREAK = 14.0, 8.0  # source seconds; the cue first sent 6 s before
RUNGS = {"hi": f"-s 320x180 {FAST_X264} -b:v 300k -c:a aac -b:a 64k",
         "lo": f"-s 160x90 {FAST_X264} -b:v 150k -c:a aac -b:a 48k"}


def make_source(path: Path, seconds: int = 30) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                    f"testsrc2=size=320x180:rate=25:duration={seconds}", "-f", "lavfi", "-i",
                    f"sine=frequency=440:sample_rate=48000:duration={seconds}",
                    *FAST_X264.split(),
                    "-g", "50", "-c:a", "aac", "-b:a", "64k", "-f", "mpegts", str(path)],
                   check=True, timeout=60)


def logged(log: Path, event: str) -> bool:
    return any(json.loads(line).get("event") == event
               for line in (read(log) or "").splitlines() if line.startswith("{"))


def on_grid(pts: int) -> int:
    """The first segment boundary at or after `pts` on timeline: locked's grid, which is
    on U = PTS + n x 2^33 (n: the wraps nearest to the wall clock; README)."""
    grid, wrap = LENGTH * 90_000, 1 << 33
    n = round((time.time() * 90_000 - pts) / wrap)
    return -(-(pts + n * wrap) // grid) * grid - n * wrap


def first_pts(path: Path) -> float:
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                          "stream=start_time", "-of", "csv=p=0", str(path)],
                         capture_output=True, text=True, timeout=30, check=True).stdout
    return float(out.split()[0])


@pytest.mark.parametrize(("timeline", "push"), [("local", False), ("locked", False),
                                               ("local", True)])
def test_a_live_splice_insert_opens_the_same_break_on_every_rung(
        tmp_path: Path, timeline: str, push: bool) -> None:
    """1. a 30 s H.264/AAC source whose PMT names a SCTE-35 PID (CUEI in the program
       loop), sent at real-time pace over UDP (push: to hlsd's TCP listener); its
       sections: at 5 s one with a bad CRC (ffmpeg's relay drops it); at 6 s a malformed
       one (its command runs past its end); at 8, 9 and 10 s the same splice_insert
       (event 4242, out of network, break_duration 8 s, its splice point the first
       segment boundary of the input's clock after 14 s); at 9 s event 4243 (splice at
       20 s), cancelled at 11 s
    2. `hlsd run`: live ladder of two rungs, 2 s segments, its HTTP origin; `timeline`
       local (placed by the wall clock) or locked (by the input's timestamps)
    3. every rung lists DATERANGE splice-4242 once opening, on the segment whose PDT is
       its START-DATE, within one segment of the moment the splice frame was sent (the
       pipeline's latency after it), PLANNED-DURATION 8, SCTE35-OUT the very section;
       the same START-DATE on both rungs (locked: that segment's first frame is the
       splice point's, within a frame)
    4. its return: END-DATE 8 s (± a segment) after START-DATE, on a listed segment
    5. nothing for the cancelled event; /metrics counts the malformed section; hlsd
       still runs"""
    source = tmp_path / "source.ts"
    make_source(source)
    section, splice = b"", 0

    def sections(first: int) -> list[tuple[float, bytes]]:
        nonlocal section
        nonlocal splice
        splice = on_grid(first + round(SPLICE * 90_000))
        section = scte35.splice_insert(EVENT, splice, round(BREAK * 90_000))
        bad = bytearray(scte35.splice_insert(EVENT + 10, first + 20 * 90_000, 90_000))
        bad[-6] ^= 0xFF
        malformed = bytearray(scte35.splice_insert(EVENT + 11, first + 20 * 90_000, None))
        malformed[12] = 0xF0  # splice_command_length: past the section's end
        malformed[-4:] = crc32_mpeg2(bytes(malformed[:-4])).to_bytes(4, "big")
        other = scte35.splice_insert(CANCELLED, first + 20 * 90_000, 4 * 90_000)
        cancel = bytearray(scte35.splice_insert(CANCELLED, None, None))
        cancel[18] |= 0x80  # splice_event_cancel_indicator
        cancel[-4:] = crc32_mpeg2(bytes(cancel[:-4])).to_bytes(4, "big")
        return [(5.0, bytes(bad)), (6.0, bytes(malformed)), (8.0, section), (9.0, section),
                (9.0, other), (10.0, section), (11.0, bytes(cancel))]

    packets = cued(source, sections)
    port = free_port(socket.SOCK_STREAM if push else socket.SOCK_DGRAM)
    location = f"tcp://127.0.0.1:{port}?listen=1" if push else \
        f"udp://127.0.0.1:{port}?overrun_nonfatal=1&fifo_size=50000"
    www, log = tmp_path / "www", tmp_path / "hlsd.log"
    config = write_config(
        tmp_path / "hlsd.yaml", temp_dir=str(tmp_path / "work"), live=True,
        input_location=location,
        segment_length=LENGTH, index_segment_count=20, timeline=timeline,
        encoding_profile=list(RUNGS),
        transfer_profile="www", www={"transfer_type": "copy", "directory": str(www)},
        http={"listen": "127.0.0.1", "port": 0},
        **{n: {"ffmpeg_command": f"ffmpeg -i %s {o} -f mpegts -"} for n, o in RUNGS.items()})
    playlists = {rung: www / f"live_{rung}.m3u8" for rung in RUNGS}
    with running(config, log) as proc:
        wait_for(lambda: logged(log, "input reader started"), 30, "the input reader")
        sender = UdpSender(packets, port, tcp=push).start()
        try:
            returned = wait_for(lambda: all(
                len(ranges(read(p), f"splice-{EVENT}")) == 2 for p in playlists.values()),
                50, "the break and its return on every rung", interval=0.5)
            assert returned and proc.poll() is None
            url = origin_url(log)
            assert url is not None
            with urllib.request.urlopen(url + "metrics", timeout=10) as answer:
                metrics = answer.read().decode()
        finally:
            sender.stop()
    splice_sent = sender.wall_of(splice)
    starts = set()
    for rung, path in playlists.items():
        text = read(path) or ""
        (out, out_pdt), (back, back_pdt) = ranges(text, f"splice-{EVENT}")
        if timeline == "locked":
            name = next(e.name for e in parse_media(text).entries
                        if e.program_date_time == out.start)
            assert abs(first_pts(www / name) - splice / 90_000) <= 0.041, (rung, name)
        assert out.start == out_pdt and back_pdt == back.end, (rung, text)
        late = out.start.timestamp() - splice_sent
        print(rung, "START-DATE - splice frame sent:", round(late, 3), "s; DURATION",
              back.duration)
        assert abs(late) < LENGTH, (rung, late)  # within one segment
        assert out.planned_duration == BREAK and out.scte35_out == section
        parsed = scte35.parse(out.scte35_out)
        assert isinstance(parsed.command, scte35.SpliceInsert) and parsed.out
        assert parsed.command.event_id == EVENT
        assert back.end is not None and back.start == out.start
        assert abs((back.end - out.start).total_seconds() - BREAK) <= LENGTH + 0.1, rung
        assert f"splice-{CANCELLED}" not in text and "#EXT-X-DISCONTINUITY:" not in text
        starts.add(out.start)
    assert len(starts) == 1
    errors = [line for line in metrics.splitlines()
              if line.startswith("hlsd_scte35_errors_total")]
    assert errors == ["hlsd_scte35_errors_total 1.0"], errors
