"""hlsd-segmenter, the real binary, on inputs made by the real ffmpeg.

Expectations come from ffprobe of the source (never from ffmpeg's own cut points):
durations add up to the source's presentation span, every segment stands alone
(PAT first, keyframe first, decodes without errors), and bad input never crashes it.
"""

from __future__ import annotations

import itertools
import json
import math
import random
import re
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from hlsd.encode.events import SegmentReady, StreamEnd, StreamInfo, parse_line
from hlsd.encode.segmenter import packaged_path
from tests.fixtures.media import (
    FPS,
    MakeTs,
    decode_errors,
    encode_ts,
    first_frame_is_key,
    probe_packets,
    source_duration,
    stream_info,
)

pytestmark = pytest.mark.e2e

BINARY = shutil.which("hlsd-segmenter") or str(packaged_path())
FRAME = 1 / FPS
TS = 188
WRAP_SECONDS = 2**33 / 90000


@dataclass
class Run:
    """One finished segmenter process: its exit code, event lines and stderr."""

    returncode: int
    events: list[dict[str, Any]]
    stderr: str
    out_dir: Path
    segments: list[dict[str, Any]] = field(init=False)

    def __post_init__(self) -> None:
        self.segments = [e for e in self.events if e["event"] == "segment"]

    @property
    def stream(self) -> dict[str, Any]:
        streams = [e for e in self.events if e["event"] == "stream"]
        assert len(streams) == 1, self.events
        return streams[0]

    @property
    def total(self) -> float:
        return float(sum(s["duration"] for s in self.segments))


def segment(data: bytes, out_dir: Path, *args: str, duration: float = 2.0) -> Run:
    """Pipes `data` through hlsd-segmenter into out_dir (prefix "seg")."""
    proc = subprocess.run(
        [BINARY, "--duration", str(duration), "--dir", str(out_dir), "--prefix", "seg", *args],
        input=data, capture_output=True, timeout=60, check=False)
    lines = proc.stdout.decode().splitlines()
    for line in lines:  # every line is one the daemon understands
        assert isinstance(parse_line(line), StreamInfo | SegmentReady | StreamEnd), line
    return Run(proc.returncode, [json.loads(line) for line in lines], proc.stderr.decode(),
               out_dir)


def check_contract(run: Run, *, start_seq: int = 0) -> None:
    """Exit code, event order, names, sizes and the end event."""
    assert run.returncode == 0, run.stderr
    kinds = [e["event"] for e in run.events]
    assert kinds[-1] == "end" and kinds.count("end") == 1
    if run.segments:
        assert kinds[0] == "stream", kinds
    end = run.events[-1]
    assert end["segments"] == len(run.segments)
    assert end["duration"] == pytest.approx(run.total, abs=1e-5)
    for i, seg in enumerate(run.segments):
        seq = start_seq + i
        assert seg["seq"] == seq
        path = Path(seg["file"])
        assert path.is_absolute()
        assert path == run.out_dir.resolve() / f"seg-{seq:05d}.ts"
        assert path.stat().st_size == seg["bytes"]
        assert seg["bytes"] % TS == 0
        assert seg["duration"] > 0
        assert 0 <= seg["pts"] < 2**33
    assert not list(run.out_dir.glob("*.tmp"))


def check_standalone(path: Path, *, video: bool) -> None:
    """PAT is the first packet, PMT the second; decodes alone; video starts on a keyframe."""
    data = path.read_bytes()
    assert data[0] == 0x47 and ((data[1] & 0x1F) << 8 | data[2]) == 0, "PAT first"
    assert data[1] & 0x40, "PAT packet starts its section"
    assert data[TS] == 0x47 and data[TS + 5] == 0x02, "PMT second"
    assert decode_errors(path) == ""
    if video:
        assert first_frame_is_key(path)


def continuity_errors(data: bytes) -> list[tuple[int, int]]:
    """(offset, pid) of every payload packet whose continuity counter does not follow
    the previous one of its PID (duplicates allowed)."""
    last: dict[int, int] = {}
    errors = []
    for off in range(0, len(data) - TS + 1, TS):
        pid = (data[off + 1] & 0x1F) << 8 | data[off + 2]
        if not data[off + 3] & 0x10:
            continue
        cc = data[off + 3] & 0x0F
        if pid in last and cc not in ((last[pid] + 1) & 0x0F, last[pid]):
            errors.append((off, pid))
        last[pid] = cc
    return errors


MEDIA = {
    # fixture: (ffprobe stream of the timing stream, has video)
    "ts_h264_aac": ("v:0", True),
    "ts_h264_only": ("v:0", True),
    "ts_aac_only": ("a:0", False),
    "ts_mp3_only": ("a:0", False),
    "ts_hevc_aac": ("v:0", True),
}


def pes_start_pts(data: bytes, pid: int) -> list[int]:
    """The PTS (90 kHz) of every PES that starts on `pid`, read straight from the TS."""
    found = []
    for off in range(0, len(data) - TS + 1, TS):
        pkt = data[off:off + TS]
        if ((pkt[1] & 0x1F) << 8 | pkt[2]) != pid or not pkt[1] & 0x40:
            continue
        start = 4 + (1 + pkt[4] if pkt[3] & 0x20 else 0)
        pes = pkt[start:]
        if pes[:3] == b"\0\0\1" and pes[7] & 0x80:
            t = pes[9:14]
            found.append((t[0] >> 1 & 7) << 30 | t[1] << 22 | (t[2] >> 1) << 15
                         | t[3] << 7 | t[4] >> 1)
    return found


def check_on_grid(starts: list[int], step: float, duration: float) -> None:
    """Segment k starts within one cut step (a GOP, or an audio PES) of origin + k x
    duration: cut points stay on the grid and never drift away from it."""
    origin, cell = starts[0], duration * 90000
    for k, pts in enumerate(starts):
        assert abs(pts - origin - k * cell) <= step * 90000, (k, pts, starts)


@pytest.mark.parametrize("fixture", list(MEDIA))
def test_segments_cover_source(fixture: str, request: pytest.FixtureRequest,
                               tmp_path: Path) -> None:
    """For each codec mix:
    1. pipe the 6 s source through the segmenter with --duration 2;
    2. the durations add up to the source span (ffprobe packet PTS) within one frame;
    3. cuts follow a fixed grid: segment k starts at the first allowed cut point (a
       keyframe for video, a PES for audio) at or after first PTS + k x 2 s (less half a
       frame), so cut points never drift away from the grid;
    4. every segment stands alone: PAT first, keyframe first, decodes without errors.
    """
    source: Path = request.getfixturevalue(fixture)
    stream, video = MEDIA[fixture]
    run = segment(source.read_bytes(), tmp_path)
    check_contract(run)

    packets = probe_packets(source, stream)
    frame = FRAME if video else packets[0].duration
    span = source_duration(source, stream)
    assert run.total == pytest.approx(span, abs=frame)

    if video:
        cut_points = sorted(round(p.pts * 90000) for p in packets if p.key)
    else:
        pid = int(str(stream_info(source)[0]["id"]), 16)
        cut_points = pes_start_pts(source.read_bytes(), pid)
    step = max(b - a for a, b in itertools.pairwise(cut_points)) / 90000
    assert [s["pts"] for s in run.segments] == sorted(s["pts"] for s in run.segments)
    for seg in run.segments:
        assert seg["pts"] in cut_points
    check_on_grid([s["pts"] for s in run.segments], step, 2.0)
    for seg in run.segments[:-1]:
        assert seg["duration"] < 2.0 + step
    assert math.floor(span / (2.0 + step)) <= len(run.segments) <= math.ceil(span / 2.0) + 1
    for seg in run.segments:
        assert seg["keyframe"] is True
        assert "discontinuity" not in seg
        check_standalone(Path(seg["file"]), video=video)
    # Played back to back, the segments form one stream with valid continuity
    # counters, the inserted tables included.
    joined = b"".join(Path(s["file"]).read_bytes() for s in run.segments)
    assert continuity_errors(joined) == []


@pytest.mark.parametrize(
    ("fixture", "kind"),
    [("ts_h264_aac", "h264"), ("ts_hevc_aac", "hevc"), ("ts_aac_only", "aac"),
     ("ts_mp3_only", "mp3")])
def test_stream_event_codecs(fixture: str, kind: str, request: pytest.FixtureRequest,
                             tmp_path: Path) -> None:
    """The stream event's RFC 6381 strings, size and rate agree with ffprobe."""
    source: Path = request.getfixturevalue(fixture)
    run = segment(source.read_bytes(), tmp_path)
    check_contract(run)
    info = {s["codec_type"]: s for s in stream_info(source)}
    event = run.stream
    if kind in ("h264", "hevc"):
        v, probed = event["video"], info["video"]
        assert (v["width"], v["height"]) == (probed["width"], probed["height"]) == (320, 180)
        assert v["fps"] == pytest.approx(FPS)
        level = int(str(probed["level"]))
        if kind == "h264":
            profile = {"High": 0x64, "Main": 0x4D, "Baseline": 0x42,
                       "Constrained Baseline": 0x42}[str(probed["profile"])]
            assert re.fullmatch(rf"avc1\.{profile:02x}[0-9a-f]{{2}}{level:02x}", v["codec"])
        else:
            assert re.fullmatch(rf"hvc1\.1\.6\.L{level}(\.[0-9A-F]{{1,2}})*", v["codec"])
        assert event["audio"]["codec"] == "mp4a.40.2"
    else:
        assert event["video"] is None
        assert event["audio"]["codec"] == {"aac": "mp4a.40.2", "mp3": "mp4a.40.34"}[kind]
        assert event["audio"]["sample_rate"] == int(str(info["audio"]["sample_rate"]))


@pytest.mark.parametrize(("rate", "fps"), [("30000/1001", 29.97), ("60000/1001", 59.94),
                                           ("24", 24.0)])
def test_stream_event_frame_rate(rate: str, fps: float, tmp_path: Path) -> None:
    """NTSC rates come out as 29.97 and 59.94 although single frame steps are whole ticks."""
    source = encode_ts(tmp_path / "in.ts", 2, audio=None, fps=rate, gop=12)
    run = segment(source.read_bytes(), tmp_path / "out")
    check_contract(run)
    assert run.stream["video"]["fps"] == fps


def mpeg_crc32(data: bytes) -> int:
    """CRC-32/MPEG-2, the checksum of PSI sections."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7 if crc & 0x80000000 else crc << 1) & 0xFFFFFFFF
    return crc


def with_audio_descriptor(data: bytes, descriptor: bytes) -> bytes:
    """The stream with `descriptor` added to the first ES of every PMT (single-packet
    sections, as ffmpeg writes them), CRC recomputed."""
    out = bytearray(data)
    pmt_pid = None
    for off in range(0, len(out) - TS + 1, TS):
        pkt = out[off:off + TS]
        pid = (pkt[1] & 0x1F) << 8 | pkt[2]
        if pid == 0 and pmt_pid is None:
            pmt_pid = (pkt[15] & 0x1F) << 8 | pkt[16]  # first program of the PAT
        if pid != pmt_pid or not pkt[1] & 0x40:
            continue
        sec = pkt[5:]
        length = (sec[1] & 0x0F) << 8 | sec[2]
        body = bytearray(sec[:3 + length - 4])
        es = 12 + ((body[10] & 0x0F) << 8 | body[11])
        info = (body[es + 3] & 0x0F) << 8 | body[es + 4]
        info += len(descriptor)
        body[es + 3:es + 5] = bytes([0xF0 | info >> 8, info & 0xFF])
        body[es + 5:es + 5] = descriptor
        length += len(descriptor)
        body[1:3] = bytes([(body[1] & 0xF0) | length >> 8, length & 0xFF])
        body += mpeg_crc32(bytes(body)).to_bytes(4, "big")
        out[off + 5:off + TS] = body + b"\xff" * (TS - 5 - len(body))
    return bytes(out)


@pytest.mark.parametrize(("level", "codec"), [(0x29, "mp4a.40.2"), (0x2C, "mp4a.40.5"),
                                              (0x31, "mp4a.40.29")])
def test_he_aac_from_pmt_descriptor(level: int, codec: str, ts_aac_only: Path,
                                    tmp_path: Path) -> None:
    """ADTS cannot say SBR/PS; an MPEG-4 audio descriptor in the PMT can."""
    data = with_audio_descriptor(ts_aac_only.read_bytes(), bytes([0x1C, 1, level]))
    run = segment(data, tmp_path)
    check_contract(run)
    assert run.stream["audio"]["codec"] == codec


def test_pts_wraparound(make_ts: MakeTs, tmp_path: Path) -> None:
    """Timestamps crossing 2^33 mid-stream: no break, durations still add up.
    1. encode 6 s starting 2.5 s before the 33-bit wrap;
    2. segment it; the segments' pts go past the wrap without a discontinuity.
    """
    source = make_ts(6, ts_offset=WRAP_SECONDS - 2.5)
    run = segment(source.read_bytes(), tmp_path)
    check_contract(run)
    pts = [s["pts"] for s in run.segments]
    assert pts[0] > 2**33 - 3 * 90000 and pts[-1] < 4 * 90000, pts
    assert all("discontinuity" not in s for s in run.segments)
    assert run.total == pytest.approx(source_duration(source), abs=FRAME)
    for seg in run.segments:
        check_standalone(Path(seg["file"]), video=True)


def stream_pids(path: Path) -> set[int]:
    """The PID of every elementary stream, as ffprobe reports it."""
    return {int(str(s["id"]), 16) for s in stream_info(path)}


def garbage(n: int, seed: int) -> bytes:
    """Random bytes without a sync byte (0x47), so the amount skipped is exact."""
    return random.Random(seed).randbytes(n).replace(b"\x47", b"\x48")


def test_garbage_prefix_and_middle(ts_h264_aac: Path, tmp_path: Path) -> None:
    """Junk before the stream and between two packets is skipped and counted.
    1. 5000 bytes of junk, the first half of the stream, 777 bytes of junk, the rest;
    2. the same segments as from the clean stream; stderr reports 5777 skipped bytes.
    """
    data = ts_h264_aac.read_bytes()
    half = (len(data) // TS // 2) * TS
    clean = segment(data, tmp_path / "clean")
    dirty = segment(garbage(5000, 1) + data[:half] + garbage(777, 2) + data[half:],
                    tmp_path / "dirty")
    check_contract(dirty)
    assert [s["duration"] for s in dirty.segments] == [s["duration"] for s in clean.segments]
    assert [s["bytes"] for s in dirty.segments] == [s["bytes"] for s in clean.segments]
    assert "skipped 5777 bytes" in dirty.stderr
    for seg in dirty.segments:
        check_standalone(Path(seg["file"]), video=True)


def test_corrupt_packets_are_reported(ts_h264_aac: Path, tmp_path: Path) -> None:
    """Skipped and damaged input is counted in the events (hlsd_corrupt_packets_total).
    1. a clean run reports no "corrupt" in its segments and "corrupt":0 at the end;
    2. 777 bytes of junk in the middle, and one packet flagged transport_error further
       on: the segments in flight report them (777 bytes = 5 packets, + 1, + the
       continuity gap the lost packet leaves in its audio or video PID), only those
       segments carry the field, and the end event's total is their sum.
    """
    data = ts_h264_aac.read_bytes()
    clean = segment(data, tmp_path / "clean")
    check_contract(clean)
    assert all("corrupt" not in s for s in clean.segments)
    assert clean.events[-1]["corrupt"] == 0

    half = (len(data) // TS // 2) * TS
    flagged = bytearray(data[half:])
    at = (len(flagged) // TS // 2) * TS
    flagged[at + 1] |= 0x80  # transport_error_indicator
    pid = (flagged[at + 1] & 0x1F) << 8 | flagged[at + 2]
    gap = 1 if pid in stream_pids(ts_h264_aac) else 0
    dirty = segment(data[:half] + garbage(777, 3) + bytes(flagged), tmp_path / "dirty")
    check_contract(dirty)
    counts = [s.get("corrupt", 0) for s in dirty.segments]
    assert sum(counts) == math.ceil(777 / TS) + 1 + gap, counts
    assert sum(1 for n in counts if n) >= 1
    assert all("corrupt" not in s or s["corrupt"] > 0 for s in dirty.segments)
    assert dirty.events[-1]["corrupt"] == sum(counts)


def test_truncated_last_packet(ts_h264_aac: Path, tmp_path: Path) -> None:
    """A stream cut 100 bytes into its last packet: the partial packet is dropped and
    counted, the last segment is still written and reported."""
    data = ts_h264_aac.read_bytes()[:-100]
    run = segment(data, tmp_path)
    check_contract(run)
    assert f"{TS - 100} truncated bytes" in run.stderr
    assert run.total == pytest.approx(source_duration(ts_h264_aac), abs=FRAME)
    for seg in run.segments[:-1]:
        check_standalone(Path(seg["file"]), video=True)


def test_empty_input(tmp_path: Path) -> None:
    """No bytes at all: exit 0, just the end event, no files."""
    run = segment(b"", tmp_path)
    assert run.returncode == 0
    assert run.events == [{"event": "end", "segments": 0, "duration": 0.0, "corrupt": 0}]
    assert list(tmp_path.iterdir()) == []


def test_max_duration_with_long_gop(make_ts: MakeTs, tmp_path: Path) -> None:
    """Keyframes 10 s apart, --duration 2 --max-duration 3:
    1. no segment exceeds 3 s; the ones cut between keyframes say keyframe false;
    2. stderr says why; durations still add up to the source.
    """
    source = make_ts(8, gop=10 * FPS)
    run = segment(source.read_bytes(), tmp_path, "--max-duration", "3")
    check_contract(run)
    assert all(s["duration"] <= 3.0 + 1e-6 for s in run.segments)
    assert len(run.segments) == math.ceil(source_duration(source) / 3.0)
    assert run.segments[0]["keyframe"] is True
    assert all(s["keyframe"] is False for s in run.segments[1:])
    assert "without a keyframe" in run.stderr
    assert run.total == pytest.approx(source_duration(source), abs=FRAME)


def test_keyframe_cut_tolerates_rounding(make_ts: MakeTs, tmp_path: Path) -> None:
    """A keyframe less than half a frame before a boundary still cuts: --duration
    2 s + 0.4 frame with keyframes at exactly 2 s cuts at 2 s, not a GOP later."""
    source = make_ts(6)
    run = segment(source.read_bytes(), tmp_path, duration=2.0 + FRAME * 0.4)
    check_contract(run)
    assert round(run.segments[0]["duration"], 3) == 2.0


def test_grid_origin_aligns_a_late_starter(make_ts: MakeTs, tmp_path: Path) -> None:
    """1. segment a stream from its start, and the same stream from its middle with
       --grid-origin = the first run's first PTS
    2. the late starter's cuts (after its first, partial segment) fall on the same PTS
    """
    source = make_ts(8)
    data = source.read_bytes()
    full = segment(data, tmp_path / "full")
    half = (len(data) // TS // 2) * TS
    late = segment(data[half:], tmp_path / "late", "--grid-origin",
                   str(full.segments[0]["pts"]), "--grid-seq", "0", "--start-seq", "1")
    full_starts = {s["pts"]: s["seq"] for s in full.segments}
    assert late.segments[0]["pts"] not in full_starts  # joined mid-segment
    assert all(s["pts"] in full_starts for s in late.segments[1:])
    assert len(late.segments) >= 2
    # numbered by grid cell (--grid-seq 0 = the cell at the origin): the same numbers;
    # --start-seq stays the floor
    for seg in late.segments[1:]:
        assert seg["seq"] == full_starts[seg["pts"]]
        assert Path(seg["file"]).name == f"seg-{seg['seq']:05d}.ts"
    assert late.segments[0]["seq"] == late.segments[1]["seq"] - 1 >= 1
    # a clock that does not continue the origin's never numbers backwards
    other = segment(data[half:], tmp_path / "other", "--grid-origin", "0", "--grid-seq",
                    "0", "--start-seq", "500")
    assert [s["seq"] for s in other.segments][:1] == [500]


def test_timestamp_jump_marks_discontinuity(make_ts: MakeTs, tmp_path: Path) -> None:
    """Two streams back to back whose clocks differ by 1000 s:
    1. the segment before the jump ends there, the next one is marked discontinuity;
    2. nothing else is marked, and the durations add up to both sources.
    """
    first, second = make_ts(3), make_ts(4, ts_offset=1000)
    run = segment(first.read_bytes() + second.read_bytes(), tmp_path)
    check_contract(run)
    marked = [i for i, s in enumerate(run.segments) if s.get("discontinuity")]
    assert len(marked) == 1
    jump = run.segments[marked[0]]
    assert jump["keyframe"] is True
    assert sum(s["duration"] for s in run.segments[:marked[0]]) == pytest.approx(
        source_duration(first), abs=FRAME)
    assert sum(s["duration"] for s in run.segments[marked[0]:]) == pytest.approx(
        source_duration(second), abs=FRAME)
    for seg in run.segments:
        check_standalone(Path(seg["file"]), video=True)


def test_new_parameters_announce_stream_again(make_ts: MakeTs, tmp_path: Path) -> None:
    """An encoder restarted at another size:
    1. a 320x180 stream, then a 160x96 one (its clock restarting);
    2. a second stream event with the new size comes right before the first segment
       of the new part, which is marked discontinuity.
    """
    first, second = make_ts(3), make_ts(3, size="160x96")
    run = segment(first.read_bytes() + second.read_bytes(), tmp_path)
    check_contract(run)
    kinds = [e["event"] for e in run.events]
    assert kinds.count("stream") == 2
    again = kinds.index("stream", 1)
    assert run.events[again]["video"]["width"] == 160
    assert run.events[again]["video"]["height"] == 96
    after = run.events[again + 1]
    assert after["event"] == "segment" and after["discontinuity"] is True
    assert all(not s.get("discontinuity") for s in run.segments if s is not after)


def test_sigterm_finishes_the_segment_in_flight(ts_h264_aac: Path, tmp_path: Path) -> None:
    """A stop request while the input is still open:
    1. write the whole stream but keep stdin open; wait for the second segment event;
    2. SIGTERM: the segment in flight is written and reported, then the end event;
       exit 0, no temporary file left.
    """
    proc = subprocess.Popen(
        [BINARY, "--duration", "2", "--dir", str(tmp_path), "--prefix", "seg"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.write(ts_h264_aac.read_bytes())
        proc.stdin.flush()
        events: list[dict[str, Any]] = []
        while sum(e["event"] == "segment" for e in events) < 2:
            events.append(json.loads(proc.stdout.readline()))
        proc.send_signal(signal.SIGTERM)
        events += [json.loads(line) for line in proc.stdout]
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
        proc.stdin.close()
        proc.wait()
    run = Run(0, events, "", tmp_path)
    check_contract(run)
    assert len(run.segments) == 3


def frames_of(path: Path) -> list[tuple[str, int]]:
    """(pict_type, pts) of every video frame ffprobe decodes from a file."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v", "-show_frames", "-show_entries",
         "frame=pict_type,pts", "-of", "json", str(path)],
        capture_output=True, text=True, check=True).stdout
    return [(f["pict_type"], int(f["pts"])) for f in json.loads(out).get("frames", [])]


def test_keyframe_byte_ranges(ts_h264_aac: Path, tmp_path: Path) -> None:
    """I-frame playlists need each keyframe's byte range:
    1. every segment lists its keyframes as [offset, size, pts], and "psi" = the bytes of
       PAT + PMT it starts with (whole packets);
    2. the keyframes listed are exactly the source's keyframes (by PTS);
    3. PSI bytes + each range alone decode to exactly one video frame, an I frame, at
       that PTS.
    """
    run = segment(ts_h264_aac.read_bytes(), tmp_path / "out")
    check_contract(run)
    source_keys = sorted(round(p.pts * 90000) for p in probe_packets(ts_h264_aac) if p.key)
    assert [k[2] for s in run.segments for k in s["keyframes"]] == source_keys
    for seg in run.segments:
        data = Path(seg["file"]).read_bytes()
        assert seg["psi"] == 2 * TS
        assert seg["keyframes"][0][0] == seg["psi"]  # the segment starts with one
        for offset, size, pts in seg["keyframes"]:
            assert offset % TS == 0 and size % TS == 0 and offset + size <= len(data)
            part = tmp_path / f"kf-{pts}.ts"
            part.write_bytes(data[:seg["psi"]] + data[offset:offset + size])
            assert frames_of(part) == [("I", pts)]


def test_audio_only_segments_list_no_keyframes(ts_aac_only: Path, tmp_path: Path) -> None:
    run = segment(ts_aac_only.read_bytes(), tmp_path)
    check_contract(run)
    assert all("keyframes" not in s and s["psi"] == 2 * TS for s in run.segments)


def test_start_seq_grows_past_five_digits(ts_h264_aac: Path, tmp_path: Path) -> None:
    """--start-seq 99999: names seg-99999.ts, seg-100000.ts, ..."""
    run = segment(ts_h264_aac.read_bytes(), tmp_path, "--start-seq", "99999")
    check_contract(run, start_seq=99999)
    assert Path(run.segments[1]["file"]).name == "seg-100000.ts"


@pytest.mark.parametrize("args", [
    [],
    ["--duration", "0", "--dir", "x", "--prefix", "p"],
    ["--duration", "2", "--dir", "x"],
    ["--duration", "2", "--dir", "x", "--prefix", "a/b"],
    ["--duration", "4", "--max-duration", "3", "--dir", "x", "--prefix", "p"],
    ["--duration", "2", "--dir", "x", "--prefix", "p", "--start-seq", "-1"],
    ["--duration", "2", "--dir", "x", "--prefix", "p", "--bogus", "1"],
])
def test_bad_arguments_exit_2(args: list[str], tmp_path: Path) -> None:
    proc = subprocess.run([BINARY, *args], input=b"", capture_output=True, cwd=tmp_path,
                          timeout=10, check=False)
    assert proc.returncode == 2
    assert proc.stdout == b""
    assert b"usage" in proc.stderr


def test_unusable_directory_exits_1(ts_h264_aac: Path, tmp_path: Path) -> None:
    """--dir below a regular file cannot be created: I/O error, exit 1."""
    (tmp_path / "file").write_bytes(b"")
    run = segment(ts_h264_aac.read_bytes(), tmp_path / "file" / "sub")
    assert run.returncode == 1
    assert run.segments == []


def locked_cell(pts: int, duration: float) -> int:
    """The segment number --timeline locked gives a segment starting at pts: its cell of
    the input's clock unwrapped onto the wall clock's epoch (hlsd.encode.locked)."""
    epoch = round((time.time() * 90000 - pts) / 2**33)
    return math.floor((pts + epoch * 2**33 + 90000 * FRAME / 2) / (duration * 90000))


def test_timeline_locked_numbers_by_the_input_clock(make_ts: MakeTs, tmp_path: Path) -> None:
    """Two segmenters joining one input at different moments (timeline: locked) give every
    segment both have the same number, start and duration, across the 33-bit wrap.
    1. encode 10 s crossing the wrap, a keyframe every 5 frames;
    2. segment it whole, and from a packet 3.3 s in;
    3. the shared numbers agree, and each is the cell of its first PTS on the grid."""
    source = make_ts(10, gop=5, ts_offset=WRAP_SECONDS - 8.0).read_bytes()
    cut = len(source) * 33 // 100 // TS * TS
    whole = segment(source, tmp_path / "whole", "--timeline", "locked", duration=1.0)
    late = segment(source[cut:], tmp_path / "late", "--timeline", "locked", duration=1.0)
    for run in (whole, late):
        assert run.returncode == 0, run.stderr
        assert all("discontinuity" not in s for s in run.segments)
        for s in run.segments[1:]:  # the first starts where the input did
            assert s["seq"] == locked_cell(s["pts"], 1.0), s
    # Each run's first segment starts where its input did (hlsd's encoders start on a
    # boundary: hlsd.encode.locked), its last where the input ended.
    theirs = {s["seq"]: s for s in late.segments[1:-1]}
    shared = [s for s in whole.segments[1:-1] if s["seq"] in theirs]
    assert len(shared) >= 4, (whole.segments, late.segments)
    for s in shared:
        other = theirs[s["seq"]]
        assert (s["pts"], s["duration"]) == (other["pts"], other["duration"])
    pts = [s["pts"] for s in shared]
    assert max(pts) > 2**33 - 3 * 90000 and min(pts) < 5 * 90000, pts  # both sides of it
