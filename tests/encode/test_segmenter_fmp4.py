"""hlsd-segmenter --format fmp4: MPEG-TS in, CMAF init + media segments out.

Expectations come from ffprobe of the source and from an independent box reader
(tests/mp4boxes.py), never from the segmenter's own idea of the stream: box structure,
sync samples at segment starts, decode times that continue exactly from segment to
segment, and ffmpeg decoding the concatenation (and an HLS playlist of it) to the
source's duration.
"""

from __future__ import annotations

import functools
import http.server
import json
import queue
import re
import shutil
import signal
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests import mp4boxes
from tests.browser import browser_page, hlsjs_path, require_browser
from tests.encode.test_segmenter import BINARY, TS, WRAP_SECONDS, Run, frames_of, garbage
from tests.fixtures.media import (
    FFMPEG,
    FFPROBE,
    FPS,
    MakeTs,
    encode_ts,
    probe_packets,
    source_duration,
    stream_info,
)

pytestmark = pytest.mark.e2e

FRAME = 1 / FPS


class FmpRun(Run):
    """A finished run of the fmp4 segmenter: also its init events."""

    @property
    def inits(self) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] == "init"]


def segment_fmp4(data: bytes, out_dir: Path, *args: str, duration: float = 2.0) -> FmpRun:
    proc = subprocess.run(
        [BINARY, "--format", "fmp4", "--duration", str(duration), "--dir", str(out_dir),
         "--prefix", "seg", *args],
        input=data, capture_output=True, timeout=60, check=False)
    events = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    return FmpRun(proc.returncode, events, proc.stderr.decode(), out_dir)


def check_contract(run: FmpRun) -> None:
    """Exit code, names, sizes; every segment names an init announced before it."""
    assert run.returncode == 0, run.stderr
    kinds = [e["event"] for e in run.events]
    assert kinds[-1] == "end" and kinds.count("end") == 1
    assert run.events[-1]["segments"] == len(run.segments)
    announced: set[str] = set()
    for event in run.events:
        if event["event"] == "init":
            path = Path(event["file"])
            assert re.fullmatch(r"seg-init-[0-9a-f]{8}\.mp4", path.name), path
            assert path.is_absolute() and path.stat().st_size == event["bytes"]
            announced.add(event["file"])
        elif event["event"] == "segment":
            assert event["init"] in announced, "init announced before its first segment"
            path = Path(event["file"])
            assert path == run.out_dir.resolve() / f"seg-{event['seq']:05d}.m4s"
            assert path.stat().st_size == event["bytes"]
    assert not list(run.out_dir.glob("*.tmp"))


def check_boxes(run: FmpRun) -> dict[int, mp4boxes.Track]:
    """Init and segment box structure; returns the tracks of the (single) init."""
    (init,) = {s["init"] for s in run.segments}
    init_boxes = mp4boxes.parse(Path(init).read_bytes())
    assert [b.type for b in init_boxes] == ["ftyp", "moov"]
    ftyp = init_boxes[0].body
    assert ftyp[:4] == b"iso6" and b"cmfc" in ftyp[8:]
    (moov,) = mp4boxes.find(init_boxes, "moov")
    assert [b.type for b in moov.children][:1] == ["mvhd"]
    for trak in moov.find("trak"):
        for path in ("tkhd", "mdia/mdhd", "mdia/hdlr", "mdia/minf/dinf/dref",
                     "mdia/minf/stbl/stsd", "mdia/minf/stbl/stts", "mdia/minf/stbl/stsc",
                     "mdia/minf/stbl/stsz", "mdia/minf/stbl/stco"):
            assert len(trak.find(path)) == 1, path
        assert len(trak.find("mdia/minf/vmhd") + trak.find("mdia/minf/smhd")) == 1
    tracks = {t.id: t for t in mp4boxes.tracks(Path(init).read_bytes())}
    trex_ids = [int.from_bytes(trex.body[4:8], "big") for trex in moov.find("mvex/trex")]
    assert sorted(trex_ids) == sorted(tracks)
    last_sequence = 0
    for seg in run.segments:
        data = Path(seg["file"]).read_bytes()
        boxes = mp4boxes.parse(data)
        assert boxes[0].type == "styp"
        kinds = [b.type for b in boxes[1:]]
        assert kinds and kinds == ["moof", "mdat"] * (len(kinds) // 2), kinds
        for moof, mdat in zip(boxes[1::2], boxes[2::2], strict=True):
            frags = [f for f in mp4boxes.fragments(data) if f.moof_offset == moof.offset]
            for frag in frags:
                assert frag.sequence > last_sequence
                last_sequence = frag.sequence
                assert frag.track in tracks
                assert frag.data_offset == mdat.offset + 8
                assert sum(frag.sizes) == mdat.size - 8
    return tracks


def per_track(run: FmpRun) -> dict[int, list[list[mp4boxes.Fragment]]]:
    """track id -> per segment, its fragments in order."""
    out: dict[int, list[list[mp4boxes.Fragment]]] = {}
    for seg in run.segments:
        frags = mp4boxes.fragments(Path(seg["file"]).read_bytes())
        for track in {f.track for f in frags} | set(out):
            out.setdefault(track, []).append([f for f in frags if f.track == track])
    return out


def check_timing(run: FmpRun, tracks: dict[int, mp4boxes.Track]) -> None:
    """Video segments start with a sync sample; every fragment's tfdt is the previous
    one's plus its durations, per track, also across segments."""
    for track, segments in per_track(run).items():
        video = tracks[track].handler == "vide"
        expected = None
        for frags in segments:
            if video and frags:
                assert frags[0].sync(0), "a video segment starts with a sync sample"
            for frag in frags:
                if expected is not None:
                    assert frag.decode_time == expected, (track, frag.sequence)
                expected = frag.decode_time + sum(frag.durations)
                if video:
                    for i in range(len(frag.sizes)):
                        assert frag.flags[i] & 0x00010000 == (0 if frag.sync(i) else 0x10000)


def concat(run: FmpRun, out: Path) -> Path:
    (init,) = {s["init"] for s in run.segments}
    out.write_bytes(Path(init).read_bytes()
                    + b"".join(Path(s["file"]).read_bytes() for s in run.segments))
    return out


def decoded(path: Path, stream: str) -> tuple[int, float, str]:
    """Decodes one stream: (frames, presentation span in seconds, ffmpeg's errors)."""
    proc = subprocess.run(
        [FFMPEG, "-v", "error", "-i", str(path), "-map", f"0:{stream}", "-f", "framecrc", "-"],
        capture_output=True, text=True, check=False)
    tb = re.search(r"#tb \d+: (\d+)/(\d+)", proc.stdout)
    rows = [line.split(",") for line in proc.stdout.splitlines()
            if line and not line.startswith("#")]
    if not tb or not rows:
        return 0, 0.0, proc.stderr or "nothing decoded"
    unit = int(tb.group(1)) / int(tb.group(2))
    pts = [int(r[2]) for r in rows]
    span = (max(p + int(r[3]) for p, r in zip(pts, rows, strict=True)) - min(pts)) * unit
    return len(rows), span, proc.stderr.strip()


MEDIA = {
    # fixture: (video codec or None, audio codec or None)
    "ts_h264_aac": ("h264", "aac"),
    "ts_h264_only": ("h264", None),
    "ts_aac_only": (None, "aac"),
    "ts_hevc_aac": ("hevc", "aac"),
    "ts_mp3_only": (None, "mp3"),
}


@pytest.mark.parametrize("fixture", list(MEDIA))
def test_fmp4_segments_decode(fixture: str, request: pytest.FixtureRequest,
                              tmp_path: Path) -> None:
    """For each codec mix:
    1. segment the 6 s source into fMP4 with --duration 2;
    2. init and segments are well-formed boxes; each video segment starts with a sync
       sample; tfdt continues exactly per track;
    3. init + segments concatenated: ffprobe sees the source's codecs, size, rate and
       channels; ffmpeg decodes every frame without errors, to the source duration;
    4. the segment durations add up to the source within one frame.
    """
    source: Path = request.getfixturevalue(fixture)
    vcodec, acodec = MEDIA[fixture]
    run = segment_fmp4(source.read_bytes(), tmp_path / "out")
    check_contract(run)
    assert len(run.segments) >= 3 and len(run.inits) == 1
    tracks = check_boxes(run)
    check_timing(run, tracks)
    assert sorted(t.handler for t in tracks.values()) == sorted(
        h for h, c in (("vide", vcodec), ("soun", acodec)) if c)

    joined = concat(run, tmp_path / "x.mp4")
    probed = {s["codec_type"]: s for s in stream_info(joined)}
    source_streams = {s["codec_type"]: s for s in stream_info(source)}
    timing = "v:0" if vcodec else "a:0"
    if vcodec:
        v = probed["video"]
        assert v["codec_name"] == vcodec
        assert (v["width"], v["height"]) == (320, 180)
        assert v["codec_tag_string"] == ("avc1" if vcodec == "h264" else "hvc1")
        video = next(t for t in tracks.values() if t.handler == "vide")
        assert (video.width, video.height, video.timescale) == (320, 180, 90000)
        frames, span, errors = decoded(joined, "v:0")
        assert errors == ""
        assert frames == len(probe_packets(source, "v:0"))
        assert span == pytest.approx(source_duration(source, "v:0"), abs=0.25)
    if acodec:
        a, src = probed["audio"], source_streams["audio"]
        assert a["codec_name"] == acodec
        assert a["sample_rate"] == src["sample_rate"]
        assert a["channels"] == src["channels"]
        audio = next(t for t in tracks.values() if t.handler == "soun")
        assert audio.timescale == int(str(src["sample_rate"]))
        frames, span, errors = decoded(joined, "a:0")
        assert errors == ""
        assert span == pytest.approx(source_duration(source, "a:0"), abs=0.25)
    total = sum(s["duration"] for s in run.segments)
    packets = probe_packets(source, timing)
    frame = FRAME if vcodec else packets[0].duration
    assert total == pytest.approx(source_duration(source, timing), abs=frame)
    # The video track's own durations tell the same length.
    for track, segments in per_track(run).items():
        if tracks[track].handler == "vide":
            ticks = sum(sum(f.durations) for frags in segments for f in frags)
            assert ticks / 90000 == pytest.approx(source_duration(source), abs=FRAME)


def avcc_fields(body: bytes) -> dict[str, int]:
    """AVCDecoderConfigurationRecord (ISO/IEC 14496-15 5.3.3.1), one SPS and one PPS."""
    sps_len = int.from_bytes(body[6:8], "big")
    pps_at = 8 + sps_len
    pps_len = int.from_bytes(body[pps_at + 1:pps_at + 3], "big")
    fields = {"profile": body[1], "level": body[3], "length_size": (body[4] & 3) + 1,
              "sps": body[5] & 0x1F, "pps": body[pps_at]}
    tail = body[pps_at + 3 + pps_len:]
    if tail:
        fields |= {"chroma": tail[0] & 3, "luma_depth": 8 + (tail[1] & 7),
                   "chroma_depth": 8 + (tail[2] & 7)}
    return fields


@pytest.mark.parametrize(("profile", "pix_fmt", "idc", "chroma", "depth"), [
    ("high", "yuv420p", 100, 1, 8), ("high422", "yuv422p", 122, 2, 8),
    ("high10", "yuv420p10le", 110, 1, 10)])
def test_fmp4_avcc_high_profiles(profile: str, pix_fmt: str, idc: int, chroma: int, depth: int,
                                 tmp_path: Path) -> None:
    """High profiles carry chroma format and bit depths in avcC; the init says what the
    SPS says, and the result decodes in that format."""
    source = tmp_path / "in.ts"
    subprocess.run([FFMPEG, "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25",
                    "-t", "2", "-c:v", "libx264", "-preset", "veryfast", "-profile:v", profile,
                    "-pix_fmt", pix_fmt, "-g", "25", "-f", "mpegts", str(source)], check=True)
    run = segment_fmp4(source.read_bytes(), tmp_path / "out", duration=1.0)
    check_contract(run)
    (video,) = mp4boxes.tracks(Path(run.segments[0]["init"]).read_bytes())
    fields = avcc_fields(video.config_body)
    level = int(str(stream_info(source)[0]["level"]))
    assert fields == {"profile": idc, "level": level, "length_size": 4, "sps": 1, "pps": 1,
                      "chroma": chroma, "luma_depth": depth, "chroma_depth": depth}
    joined = concat(run, tmp_path / "x.mp4")
    assert stream_info(joined)[0]["pix_fmt"] == pix_fmt
    assert decoded(joined, "v:0")[2] == ""


def test_fmp4_hvcc_profile_tier_level(ts_hevc_aac: Path, tmp_path: Path) -> None:
    """hvcC's general profile, tier and level are the SPS's (ffprobe reads them there)."""
    run = segment_fmp4(ts_hevc_aac.read_bytes(), tmp_path / "out")
    check_contract(run)
    video = next(t for t in mp4boxes.tracks(Path(run.segments[0]["init"]).read_bytes())
                 if t.handler == "vide")
    body = video.config_body
    probed = next(s for s in stream_info(ts_hevc_aac) if s["codec_type"] == "video")
    assert body[1] & 0x1F == 1 and not body[1] & 0x20  # Main profile, Main tier
    assert body[12] == int(str(probed["level"]))
    assert body[21] & 3 == 3  # 4-byte NAL unit lengths
    assert [body[23 + 0] & 0x3F] == [32]  # the first array holds the VPS


def write_vod_playlist(run: FmpRun) -> Path:
    """A VOD media playlist of the run's segments, by hand: EXT-X-MAP + EXTINF lines."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-TARGETDURATION:3",
             "#EXT-X-PLAYLIST-TYPE:VOD", f'#EXT-X-MAP:URI="{Path(run.segments[0]["init"]).name}"']
    for seg in run.segments:
        lines += [f"#EXTINF:{seg['duration']:.3f},", Path(seg["file"]).name]
    lines.append("#EXT-X-ENDLIST")
    playlist = run.out_dir / "index.m3u8"
    playlist.write_text("\n".join(lines) + "\n")
    return playlist


def test_fmp4_hls_playlist_plays(ts_h264_aac: Path, tmp_path: Path) -> None:
    """1. segment into fMP4; 2. write a VOD playlist by hand (#EXT-X-MAP + EXTINF);
    3. ffmpeg reads the playlist and decodes the full duration without errors."""
    out = tmp_path / "out"
    run = segment_fmp4(ts_h264_aac.read_bytes(), out)
    check_contract(run)
    playlist = write_vod_playlist(run)
    frames, span, errors = decoded(playlist, "v:0")
    assert errors == ""
    assert frames == len(probe_packets(ts_h264_aac, "v:0"))
    assert span == pytest.approx(source_duration(ts_h264_aac), abs=0.25)


PLAYER = """<!doctype html><video id="v" muted autoplay playsinline></video>
<script src="hls.min.js"></script><script>
window.hlsErrors = [];
const hls = new Hls();
hls.on(Hls.Events.ERROR, (_, d) => window.hlsErrors.push(`${d.type} ${d.details} ${d.fatal}`));
hls.loadSource("index.m3u8");
hls.attachMedia(document.getElementById("v"));
</script>"""


@contextmanager
def serve(directory: Path) -> Iterator[str]:
    """A static HTTP server for `directory` on 127.0.0.1; yields its base URL."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.browser
@pytest.mark.e2e
# Not MP3: Chromium's MSE takes no MPEG audio in MP4 (isTypeSupported('audio/mp4;
# codecs="mp4a.6B"') is false); ffmpeg decoding it is tested above.
@pytest.mark.parametrize("fixture", ["ts_h264_aac", "ts_aac_only"])
async def test_fmp4_plays_in_chromium_with_hlsjs(fixture: str, request: pytest.FixtureRequest,
                                                 tmp_path: Path) -> None:
    """MSE is strict about avcC, esds and decode times: the real proof.
    1. segment into fMP4 and write a VOD playlist; serve it and hls.js on 127.0.0.1;
    2. headless Chromium plays it to the end with hls.js reporting no error at all;
    3. the video element played the source's duration (within 0.25 s).
    """
    require_browser()
    source: Path = request.getfixturevalue(fixture)
    run = segment_fmp4(source.read_bytes(), tmp_path / "www")
    check_contract(run)
    write_vod_playlist(run)
    shutil.copy(hlsjs_path(), run.out_dir / "hls.min.js")
    (run.out_dir / "index.html").write_text(PLAYER)
    with serve(run.out_dir) as url:
        async with browser_page() as b:
            await b.page.goto(url + "index.html")
            await b.page.wait_for_function("document.getElementById('v').ended",
                                           timeout=30_000)
            errors = await b.page.evaluate("window.hlsErrors")
            played = await b.page.evaluate("document.getElementById('v').currentTime")
            assert b.blocked == [] and b.errors == []
    assert errors == []
    timing = "a:0" if "video" not in {s["codec_type"] for s in stream_info(source)} else "v:0"
    assert played == pytest.approx(source_duration(source, timing), abs=0.25)


def test_fmp4_new_parameters_new_init(make_ts: MakeTs, tmp_path: Path) -> None:
    """An encoder restarted at another size:
    1. a 320x180 stream, then a 160x96 one;
    2. a second init event with another name comes before the first segment of the
       new part, which is marked discontinuity and names it; the old init is unchanged;
    3. the new init with its segments decodes at 160x96.
    """
    first, second = make_ts(3), make_ts(3, size="160x96")
    run = segment_fmp4(first.read_bytes() + second.read_bytes(), tmp_path / "out")
    check_contract(run)
    assert len(run.inits) == 2
    old, new = (e["file"] for e in run.inits)
    assert old != new
    kinds = [e["event"] for e in run.events]
    after = next(e for e in run.events[kinds.index("init", kinds.index("init") + 1):]
                 if e["event"] == "segment")
    assert after["discontinuity"] is True and after["init"] == new
    assert all(s["init"] == old for s in run.segments[:run.segments.index(after)])
    assert all(s["init"] == new for s in run.segments[run.segments.index(after):])
    assert [s for s in run.segments if s.get("discontinuity")] == [after]
    tail = FmpRun(0, [e for e in run.events if e.get("init") == new], "", run.out_dir)
    joined = concat(tail, tmp_path / "new.mp4")
    v = next(s for s in stream_info(joined) if s["codec_type"] == "video")
    assert (v["width"], v["height"]) == (160, 96)
    assert decoded(joined, "v:0")[2] == ""


@pytest.mark.parametrize("on_grid", [False, True])
def test_fmp4_config_change_without_timestamp_break(on_grid: bool, make_ts: MakeTs,
                                                    tmp_path: Path) -> None:
    """Another size on the same clock (no timestamp break) still gets its own init and
    a discontinuity:
    1. a 320x180 stream, then a 160x96 one whose clock continues it: 0.1 s later (so its
       B-frame-delayed first DTS still follows the last one), or exactly on the 2 s grid
       (its first PTS measured, the offset corrected), so the cut is due anyway;
    2. two inits; only the first segment of the new part is marked, and it names the
       new init.
    """
    first = make_ts(3)
    second = make_ts(3, size="160x96", ts_offset=3.1)
    start = min(p.pts for p in probe_packets(first))
    if on_grid:
        target = start + 4.0  # two 2 s cells after the first segment's start
        shift = target - min(p.pts for p in probe_packets(second))
        second = encode_ts(tmp_path / "b.ts", 3, size="160x96", ts_offset=3.1 + shift)
    run = segment_fmp4(first.read_bytes() + second.read_bytes(), tmp_path / "out")
    check_contract(run)
    assert "0 timestamp breaks" in run.stderr
    assert len(run.inits) == 2
    marked = [s for s in run.segments if s.get("discontinuity")]
    assert len(marked) == 1 and marked[0]["init"] == run.inits[1]["file"]
    if on_grid:
        assert marked[0]["pts"] == round(target * 90000)


def test_fmp4_pts_wraparound(make_ts: MakeTs, tmp_path: Path) -> None:
    """Timestamps crossing 2^33: decode times keep growing, continuous, no break."""
    source = make_ts(6, ts_offset=WRAP_SECONDS - 2.5)
    run = segment_fmp4(source.read_bytes(), tmp_path / "out")
    check_contract(run)
    tracks = check_boxes(run)
    check_timing(run, tracks)
    assert all("discontinuity" not in s for s in run.segments)
    video = per_track(run)[1]
    assert video[-1][-1].decode_time > 2**33  # grew past the wrap, did not fold back
    assert decoded(concat(run, tmp_path / "x.mp4"), "v:0")[2] == ""


def test_fmp4_corrupt_input(ts_h264_aac: Path, tmp_path: Path) -> None:
    """Junk in the middle and a truncated tail: skipped, counted, still valid fMP4."""
    data = ts_h264_aac.read_bytes()
    half = (len(data) // TS // 2) * TS
    run = segment_fmp4(garbage(1000, 7) + data[:half] + garbage(777, 8) + data[half:-100],
                       tmp_path / "out")
    check_contract(run)
    assert sum(s.get("corrupt", 0) for s in run.segments) == run.events[-1]["corrupt"] > 0
    tracks = check_boxes(run)
    check_timing(run, tracks)
    frames, _, errors = decoded(concat(run, tmp_path / "x.mp4"), "v:0")
    assert errors == "" and frames > 0


def test_fmp4_max_duration_with_long_gop(make_ts: MakeTs, tmp_path: Path) -> None:
    """Keyframes 10 s apart, --max-duration 3: segments cut without keyframes stay
    within 3 s, say keyframe false, and the whole still decodes."""
    source = make_ts(8, gop=10 * FPS)
    run = segment_fmp4(source.read_bytes(), tmp_path / "out", "--max-duration", "3")
    check_contract(run)
    assert all(s["duration"] <= 3.0 + 1e-6 for s in run.segments)
    assert [s["keyframe"] for s in run.segments][:2] == [True, False]
    frames, _, errors = decoded(concat(run, tmp_path / "x.mp4"), "v:0")
    assert errors == "" and frames == len(probe_packets(source, "v:0"))


def test_fmp4_keyframe_byte_ranges(ts_h264_aac: Path, tmp_path: Path) -> None:
    """1. every segment lists its keyframes; they are the source's keyframes;
    2. each starts a fragment: its range begins at a moof (the first right after styp);
    3. init + the range alone decode to exactly one video frame, an I frame, at its PTS.
    """
    run = segment_fmp4(ts_h264_aac.read_bytes(), tmp_path / "out")
    check_contract(run)
    init = Path(run.segments[0]["init"]).read_bytes()
    source_keys = sorted(round(p.pts * 90000) for p in probe_packets(ts_h264_aac) if p.key)
    assert [k[2] for s in run.segments for k in s["keyframes"]] == source_keys
    for seg in run.segments:
        data = Path(seg["file"]).read_bytes()
        moofs = {b.offset for b in mp4boxes.find(mp4boxes.parse(data), "moof")}
        assert seg["keyframes"][0][0] == mp4boxes.parse(data)[0].size  # right after styp
        for offset, size, pts in seg["keyframes"]:
            assert offset in moofs and offset + size <= len(data)
            part = tmp_path / f"kf-{pts}.mp4"
            part.write_bytes(init + data[offset:offset + size])
            assert frames_of(part) == [("I", pts)]


def test_fmp4_audio_only_lists_no_keyframes(ts_aac_only: Path, tmp_path: Path) -> None:
    run = segment_fmp4(ts_aac_only.read_bytes(), tmp_path / "out")
    check_contract(run)
    assert all("keyframes" not in s and "psi" not in s for s in run.segments)


@pytest.mark.parametrize("fixture", ["ts_h264_aac", "ts_aac_only"])
def test_fmp4_ll_hls_parts(fixture: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """--part-duration 0.5 (LL-HLS parts):
    1. each part is announced before its segment (after the previous segment), numbered
       0, 1, ... within it, in a file of its own that is complete when announced;
    2. a segment's file is its parts one after the other;
    3. no part is longer than 0.5 s; together they last as long as their segment;
    4. a part is independent exactly when its video starts with a sync sample (audio-only
       parts always are), and every segment's first part is;
    5. init + all parts decode to every frame of the source.
    """
    source: Path = request.getfixturevalue(fixture)
    run = segment_fmp4(source.read_bytes(), tmp_path / "out", "--part-duration", "0.5")
    check_contract(run)
    tracks = check_boxes(run)
    check_timing(run, tracks)
    video = any(t.handler == "vide" for t in tracks.values())
    order = [(e["event"], e.get("seq")) for e in run.events if e["event"] in ("part", "segment")]
    all_parts: list[bytes] = []
    for seg in run.segments:
        parts = [e for e in run.events if e["event"] == "part" and e["seq"] == seg["seq"]]
        assert [p["index"] for p in parts] == list(range(len(parts))) and len(parts) >= 4
        # Only the last part says so: a server then hints part 0 of the next segment.
        assert [bool(p.get("last")) for p in parts] == [False] * (len(parts) - 1) + [True]
        first = order.index(("part", seg["seq"]))
        assert order[first:first + len(parts) + 1] == [("part", seg["seq"])] * len(parts) + [
            ("segment", seg["seq"])]
        blobs = []
        for part in parts:
            path = Path(part["file"])
            assert path == run.out_dir.resolve() / f"seg-{seg['seq']:05d}.{part['index']}.m4s"
            blobs.append(path.read_bytes())
            assert len(blobs[-1]) == part["bytes"]
            assert 0 < part["duration"] <= 0.5 + 1e-6
            if video:
                frags = [f for f in mp4boxes.fragments(blobs[-1]) if f.track == 1]
                assert part["independent"] == frags[0].sync(0)
            else:
                assert part["independent"] is True
        assert parts[0]["independent"] is True
        assert b"".join(blobs) == Path(seg["file"]).read_bytes()
        assert sum(p["duration"] for p in parts) == pytest.approx(seg["duration"], abs=FRAME)
        all_parts += blobs
    joined = tmp_path / "parts.mp4"
    joined.write_bytes(Path(run.segments[0]["init"]).read_bytes() + b"".join(all_parts))
    stream = "v:0" if video else "a:0"
    frames, _, errors = decoded(joined, stream)
    assert errors == ""
    if video:
        assert frames == len(probe_packets(source, stream))


def keyframe_offsets(path: Path) -> list[int]:
    """Byte offsets of the video keyframes' first TS packets, as ffprobe finds them."""
    out = subprocess.run(
        [FFPROBE, "-v", "error", "-select_streams", "v:0", "-show_entries",
         "packet=pos,flags", "-of", "json", str(path)],
        capture_output=True, text=True, check=True).stdout
    return [int(p["pos"]) for p in json.loads(out)["packets"] if "K" in p.get("flags", "")]


def test_fmp4_parts_announced_while_input_flows(make_ts: MakeTs, tmp_path: Path) -> None:
    """Parts are announced as they complete, not when their segment does:
    1. a stream with a keyframe every 2 s (`--duration 2`): segment 0 can only end at
       the second keyframe. Everything before that keyframe's first TS packet (its
       offset from ffprobe) goes into the segmenter's stdin, which stays open;
    2. segment 0 has at least four parts (2 s in parts of at most 0.5 s), and all but
       its last end before that keyframe: three part events of segment 0 come, and no
       segment event, while the segmenter still waits for input;
    3. the rest up to the third keyframe: segment 0 ends — its last part, then it;
    4. SIGTERM: the segment in flight is finished (its last part first), then the end
       event; exit 0; no temporary files; each segment is its parts concatenated.
    """
    source = make_ts(6, gop=2 * FPS)
    data = source.read_bytes()
    keyframes = keyframe_offsets(source)
    assert len(keyframes) == 3 and all(k % TS == 0 for k in keyframes), keyframes
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [BINARY, "--format", "fmp4", "--duration", "2", "--part-duration", "0.5", "--dir",
         str(out), "--prefix", "seg"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdin is not None and proc.stdout is not None
    lines: queue.Queue[bytes] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(b) for b in proc.stdout or []],
                              daemon=True)
    reader.start()
    events: list[dict[str, Any]] = []

    def until_seen(done: Callable[[], bool]) -> None:
        while not done():  # the segmenter answers in milliseconds: 10 s means never
            try:
                events.append(json.loads(lines.get(timeout=10)))
            except queue.Empty:
                raise AssertionError(f"nothing more announced; so far: {events}") from None

    try:
        proc.stdin.write(data[:keyframes[1]])
        proc.stdin.flush()
        until_seen(lambda: sum(e["event"] == "part" for e in events) >= 3)
        assert [(e["event"], e["seq"]) for e in events if e["event"] != "init"] == [
            ("part", 0)] * 3, events
        assert proc.poll() is None  # still reading: nothing waited for the end of input
        proc.stdin.write(data[keyframes[1]:keyframes[2]])
        proc.stdin.flush()
        until_seen(lambda: any(e["event"] == "segment" for e in events))
        seg0 = [e for e in events if e["event"] in ("part", "segment")]
        assert seg0[-1]["event"] == "segment" and seg0[-1]["seq"] == 0
        assert seg0[-2]["event"] == "part" and seg0[-2].get("last") and len(seg0) >= 5, seg0
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
        proc.stdin.close()
        proc.wait()
    reader.join(timeout=30)
    while not lines.empty():
        events.append(json.loads(lines.get()))
    run = FmpRun(0, events, "", out)
    check_contract(run)
    assert [seg["seq"] for seg in run.segments] == [0, 1]
    for seg in run.segments:
        parts = [e for e in events if e["event"] == "part" and e["seq"] == seg["seq"]]
        assert b"".join(Path(p["file"]).read_bytes() for p in parts) == Path(
            seg["file"]).read_bytes()


@pytest.mark.parametrize("args", [
    ["--format", "mkv"],
    ["--part-duration", "0.5"],  # parts need fmp4
    ["--format", "fmp4", "--part-duration", "3"],  # longer than --duration
])
def test_fmp4_bad_arguments_exit_2(args: list[str], tmp_path: Path) -> None:
    proc = subprocess.run([BINARY, "--duration", "2", "--dir", str(tmp_path), "--prefix", "p",
                           *args], input=b"", capture_output=True, check=False)
    assert proc.returncode == 2 and b"usage" in proc.stderr
