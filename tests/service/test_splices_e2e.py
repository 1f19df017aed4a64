"""SCTE-35 in a file input end to end: a 40 s MPEG-TS with a splice_insert on a PID of its
own (stream_type 0x86) becomes exact cut points and #EXT-X-DATERANGE on every rung."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from hlsd.media import daterange, scte35
from hlsd.media.parse import parse_media
from hlsd.media.sections import crc32_mpeg2, packetize
from tests.daemon_util import FAST_X264, hlsd_argv, probe_duration, write_config
from tests.fixtures.cued_udp import pid, video_pts

pytestmark = pytest.mark.e2e

PACKET, CUE_PID, EVENT = 188, 0x1F0, 1001
FRAME = 1 / 25
CUEI = bytes([0x05, 4]) + b"CUEI"  # registration descriptor: SCTE-35 on this PID


def make_source(path: Path) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc2=size=320x180:rate=25:duration=40", "-f", "lavfi", "-i",
                    "sine=frequency=440:sample_rate=48000:duration=40", *FAST_X264.split(),
                    "-g", "50", "-c:a", "aac", "-b:a", "64k", "-f", "mpegts", str(path)],
                   check=True)


def with_cue_stream(pmt: bytes) -> bytes:
    """A PMT packet (one section, pointer_field 0) listing the SCTE-35 PID as well."""
    length = (pmt[6] & 0x0F) << 8 | pmt[7]
    section = pmt[5:5 + 3 + length]
    entry = bytes([0x86, 0xE0 | CUE_PID >> 8, CUE_PID & 0xFF, 0xF0, len(CUEI)]) + CUEI
    body = section[:-4] + entry
    length += len(entry)
    body = body[:1] + bytes([(body[1] & 0xF0) | length >> 8, length & 0xFF]) + body[3:]
    body += crc32_mpeg2(body).to_bytes(4, "big")
    return (pmt[:5] + body).ljust(PACKET, b"\xff")


def insert_cues(source: Path, out: Path) -> bytes:
    """The source with its PMT naming CUE_PID and, 4 s before the splice point (21 s), a
    bad-CRC section, a truncated one and the splice_insert (8 s break); returns that."""
    data = source.read_bytes()
    packets = [data[i:i + PACKET] for i in range(0, len(data), PACKET)]
    pmt_pid = next((p[15] & 0x1F) << 8 | p[16] for p in packets if pid(p) == 0)
    video = 0x100  # ffmpeg's first elementary stream
    first = next(t for p in packets if pid(p) == video and (t := video_pts(p)) is not None)
    section = scte35.splice_insert(EVENT, first + 21 * 90_000, 8 * 90_000)
    bad = bytearray(scte35.splice_insert(EVENT + 1, first + 30 * 90_000, 90_000))
    bad[20] ^= 0xFF
    truncated = scte35.splice_insert(EVENT + 2, first + 32 * 90_000, 90_000)[:20]
    cues = [*packetize(bytes(bad), CUE_PID, 0), *packetize(truncated, CUE_PID, 1),
            *packetize(section, CUE_PID, 2), *packetize(section, CUE_PID, 3)]
    result, placed = [], False
    for packet in packets:
        if pid(packet) == pmt_pid:
            packet = with_cue_stream(packet)
        t = video_pts(packet) if pid(packet) == video else None
        if not placed and t is not None and t - first >= 17 * 90_000:
            result += cues
            placed = True
        result.append(packet)
    out.write_bytes(b"".join(result))
    return section


def starts(entries: list[float]) -> list[float]:
    times, at = [], 0.0
    for duration in entries:
        times.append(round(at, 3))
        at += duration
    return times


def test_a_splice_insert_in_a_file_cuts_every_rung_and_marks_the_break(tmp_path: Path) -> None:
    """1. a 40 s TS (H.264 + AAC) whose PMT lists a SCTE-35 PID carrying, 4 s ahead: a
       section with a bad CRC, a truncated one, and a splice_insert (event 1001, out of
       network, 8 s break at 21.0 s) sent twice
    2. `hlsd run` (two video rungs and an audio-only one, 4 s segments, VOD): exit 0
    3. every rung: segment boundaries at 21.0 and 29.0 s (± a frame) besides the 4 s
       grid (0, 4, … 36 all still there); DATERANGE splice-1001 on the segment at 21.0,
       its START-DATE that segment's PDT, SCTE35-OUT the very section (event 1001),
       PLANNED-DURATION 8; the return on the segment at 29.0 with DURATION 8; the same
       START-DATE on every rung; no DISCONTINUITY; a PDT on every segment
    4. the log counts the two bad sections; the VOD decodes to the source's duration"""
    source, cued = tmp_path / "plain.ts", tmp_path / "cued.ts"
    make_source(source)
    section = insert_cues(source, cued)
    www, log = tmp_path / "www", tmp_path / "hlsd.log"
    rungs = {"hi": f"-s 320x180 {FAST_X264} -b:v 300k -c:a aac -b:a 64k",
             "lo": f"-s 160x90 {FAST_X264} -b:v 150k -c:a aac -b:a 48k",
             "sound": "-vn -c:a aac -b:a 48k"}
    config = write_config(
        tmp_path / "hlsd.yaml", temp_dir=str(tmp_path / "work"), input_location=str(cued),
        segment_length=4, index_segment_count=0, encoder_mode="shared",
        encoding_profile=list(rungs), transfer_profile="www",
        www={"transfer_type": "copy", "directory": str(www)},
        **{n: {"ffmpeg_command": f"ffmpeg -i %s {o} -f mpegts -"} for n, o in rungs.items()})
    with open(log, "wb") as out:
        done = subprocess.run(hlsd_argv("run", str(config)), stdout=out,
                              stderr=subprocess.STDOUT, timeout=240)
    assert done.returncode == 0, log.read_text()[-3000:]
    dates = set()
    for rung in rungs:
        text = (www / f"live_{rung}.m3u8").read_text()
        playlist = parse_media(text)
        assert playlist.ended and "#EXT-X-DISCONTINUITY" not in text.splitlines()
        assert all(e.program_date_time is not None for e in playlist.entries)
        at = starts([e.duration for e in playlist.entries])
        for boundary in (*range(0, 40, 4), 21, 29):
            assert any(abs(t - boundary) <= FRAME + 0.001 for t in at), (rung, boundary, at)
        marked = [(i, daterange.parse(m)) for i, e in enumerate(playlist.entries)
                  for m in e.marks]
        assert [r.id for _, r in marked] == ["splice-1001", "splice-1001"], (rung, marked)
        (i_out, out), (i_back, back) = marked
        assert abs(at[i_out] - 21.0) <= 0.05 and abs(at[i_back] - 29.0) <= FRAME + 0.001
        assert out.start == playlist.entries[i_out].program_date_time
        assert out.scte35_out == section and out.planned_duration == 8.0
        parsed = scte35.parse(out.scte35_out)
        assert isinstance(parsed.command, scte35.SpliceInsert)
        assert parsed.command.event_id == EVENT and parsed.out
        assert back.start == out.start and back.duration == pytest.approx(
            at[i_back] - at[i_out], abs=0.002)
        dates.add(out.start)
    assert len(dates) == 1
    skipped = [json.loads(line) for line in log.read_text().splitlines()
               if "SCTE-35 sections skipped" in line]
    assert [entry["count"] for entry in skipped] == [2]
    for rung in ("hi", "sound"):
        stream = "v:0" if rung == "hi" else "a:0"
        assert probe_duration(www / f"live_{rung}.m3u8", stream) == pytest.approx(
            probe_duration(source, stream), abs=0.1)
