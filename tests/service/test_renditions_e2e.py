"""Alternate renditions end to end: a 40 s Matroska file with two audio tracks (eng, spa)
and SubRip subtitles, segmented by the real `hlsd run` into two video variants without
audio, two audio renditions and a WebVTT subtitle rendition (players: tests/serve/
test_renditions_players.py)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from hlsd.encode.webvtt import TICKS, parse_segment
from tests.daemon_util import FAST_X264, hlsd_argv, probe_duration, write_config
from tests.fixtures.media import probe_packets, stream_info
from tests.hlscheck import parse_attributes, parse_media_text

pytestmark = pytest.mark.e2e

SECONDS = 40
SEGMENT = 4
# (start, end, text) of the source's cues: one inside a segment, one across the 8 s
# boundary, one across two boundaries, one near the end.
CUES = [(1.0, 3.0, "First cue"), (7.5, 9.0, "Across a boundary"),
        (15.0, 24.5, "Across two boundaries"), (37.25, 38.0, "Near the end")]
VIDEO = f"{FAST_X264} -an -map 0:v:0 -f mpegts -"
# Audio boundaries follow the video's within a video frame (a keyframe is the first frame
# at or after a boundary) plus an audio frame (1024 samples at 48 kHz).
ALIGNED = 1 / 25 + 1024 / 48000
VIDEO_LATE = 0.3  # the source's video starts this much after its audio, as in broadcast TS


def srt_time(t: float) -> str:
    h, rest = divmod(round(t * 1000), 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d},{ms:03d}"


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("renditions-src")
    srt = folder / "subs.srt"
    srt.write_text("".join(f"{i}\n{srt_time(a)} --> {srt_time(b)}\n{text}\n\n"
                           for i, (a, b, text) in enumerate(CUES, 1)))
    out = folder / "source.mkv"
    lavfi = [f"testsrc2=size=320x180:rate=25:duration={SECONDS}",
             f"sine=frequency=440:sample_rate=48000:duration={SECONDS}",
             f"sine=frequency=660:sample_rate=48000:duration={SECONDS}"]
    argv = ["ffmpeg", "-v", "error", "-y", "-itsoffset", str(VIDEO_LATE)]
    for graph in lavfi:
        argv += ["-f", "lavfi", "-i", graph]
    argv += ["-i", str(srt), "-map", "0", "-map", "1", "-map", "2", "-map", "3",
             *FAST_X264.split(), "-g", "25", "-c:a", "aac", "-b:a", "64k", "-c:s", "srt",
             "-metadata:s:a:0", "language=eng", "-metadata:s:a:1", "language=spa",
             "-metadata:s:s:0", "language=eng", str(out)]
    subprocess.run(argv, check=True)
    return out


@pytest.fixture(scope="module")
def published(source: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The source run through `hlsd run` to its end; the destination folder."""
    tmp = tmp_path_factory.mktemp("renditions")
    www = tmp / "www"
    config = write_config(
        tmp / "renditions.yaml", temp_dir=str(tmp / "work"), input_location=str(source),
        segment_length=SEGMENT, index_segment_count=0,
        encoding_profile=["v180", "v90", "aud_en", "aud_es", "sub_en"],
        transfer_profile="www",
        v180={"ffmpeg_command": f"ffmpeg -i %s -b:v 300k {VIDEO}"},
        v90={"ffmpeg_command": f"ffmpeg -i %s -s 160x90 -b:v 100k {VIDEO}"},
        aud_en={"ffmpeg_command": "ffmpeg -i %s -map 0:a:0 -vn -c:a aac -b:a 64k -f mpegts -",
                "rendition": {"type": "audio", "language": "en", "name": "English"}},
        aud_es={"ffmpeg_command": "ffmpeg -i %s -map 0:a:1 -vn -c:a aac -b:a 48k -f mpegts -",
                "rendition": {"type": "audio", "language": "es", "name": "Español"}},
        sub_en={"ffmpeg_command": "ffmpeg -i %s -map 0:s:0 -c:s webvtt -f webvtt -",
                "rendition": {"type": "subtitles", "language": "en", "name": "English"}},
        www={"transfer_type": "copy", "directory": str(www)})
    done = subprocess.run(hlsd_argv("run", str(config)), capture_output=True, text=True,
                          timeout=180)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return www


def lines_of(master: str, tag: str) -> list[dict[str, str]]:
    return [parse_attributes(line.partition(":")[2]) for line in master.splitlines()
            if line.startswith(tag + ":")]


def segments(www: Path, rung: str) -> list[tuple[int, Path, float]]:
    """(sequence number, file, EXTINF) of a rung's playlist."""
    text = parse_media_text((www / f"live_{rung}.m3u8").read_text(), rung)
    return [(s.msn, www / s.uri, s.duration) for s in text.segments]


def first_pts(path: Path, stream: str) -> float:
    return min(p.pts for p in probe_packets(path, stream) if p.pts is not None)


def test_master_lists_the_renditions_and_every_variant_names_them(published: Path) -> None:
    """1. the master has 2 AUDIO renditions (en default) and 1 SUBTITLES rendition (not
       default: subtitles are shown only when asked for)
    2. the two video variants name both groups, their CODECS carry the audio codec, and
       no rendition is listed as a variant"""
    master = (published / "live.m3u8").read_text()
    media = lines_of(master, "#EXT-X-MEDIA")
    assert sorted((m["TYPE"], m["LANGUAGE"], m["DEFAULT"]) for m in media) == [
        ("AUDIO", "en", "YES"), ("AUDIO", "es", "NO"), ("SUBTITLES", "en", "NO")]
    assert {m["GROUP-ID"] for m in media if m["TYPE"] == "AUDIO"} == {"aud"}
    assert all(m["AUTOSELECT"] == "YES" for m in media)
    assert [m["CHANNELS"] for m in media if m["TYPE"] == "AUDIO"] == ["1", "1"]  # mono sine
    variants = lines_of(master, "#EXT-X-STREAM-INF")
    assert sorted(v["RESOLUTION"] for v in variants) == ["160x90", "320x180"]
    for v in variants:
        assert v["AUDIO"] == "aud" and v["SUBTITLES"] == "sub"
        assert v["CODECS"].startswith("avc1.") and v["CODECS"].endswith(",mp4a.40.2")


def test_audio_renditions_decode_whole_and_align_with_the_video(published: Path) -> None:
    """1. each audio playlist decodes to the source's 40 s; the video playlists carry no
       audio stream at all
    2. every video segment has an audio segment of the same number, and they start within
       a video frame and an audio frame of each other: one grid, though the source's
       video starts 0.3 s after its audio (hlsd starts the video at 0 with the audio)"""
    for rung in ("aud_en", "aud_es"):
        assert probe_duration(published / f"live_{rung}.m3u8", "a:0") == pytest.approx(
            SECONDS, abs=0.2)
    for rung in ("v180", "v90"):
        for _, path, _ in segments(published, rung)[:3]:
            kinds = [s["codec_type"] for s in stream_info(path)]
            assert kinds == ["video"], f"{path.name}: {kinds}"
    audio = {seq: path for seq, path, _ in segments(published, "aud_es")}
    video = segments(published, "v180")
    # 40.3 s of video from 0: ten whole segments and a short last one, as the audio has
    assert [d for _, _, d in video[:-1]] == [SEGMENT] * 10
    assert video[-1][2] == pytest.approx(VIDEO_LATE, abs=0.1)
    for seq, path, _ in video:
        assert seq in audio
        assert abs(first_pts(audio[seq], "a:0") - first_pts(path, "v:0")) <= ALIGNED, seq


def test_subtitle_segments_follow_the_video_and_each_cue_lands_at_its_time(
        published: Path, source: Path) -> None:
    """1. one .vtt segment per video segment, same numbers and EXTINF
    2. each is WebVTT with X-TIMESTAMP-MAP, and holds exactly the cues overlapping it
       (a cue across a boundary in both)
    3. placed with its X-TIMESTAMP-MAP on the segments' MPEG-TS clock, each cue starts
       where it did in the source against the audio (what subtitles follow; the audio is
       on the video's grid, test above), within 0.1 s"""
    video = segments(published, "v180")
    subs = segments(published, "sub_en")
    assert [(s, d) for s, _, d in subs] == [(s, d) for s, _, d in video]
    audio_zero = first_pts(segments(published, "aud_en")[0][1], "a:0")
    source_zero = first_pts(source, "a:0")
    held = {}
    for seq, path, _ in subs:
        text = path.read_text()
        assert text.startswith("WEBVTT\n") and "X-TIMESTAMP-MAP=MPEGTS:" in text
        zero, cues = parse_segment(text)
        held[seq] = {cue.text for cue in cues}
        for cue in cues:
            start = zero / TICKS + cue.start - audio_zero
            src_start, _, _ = next(c for c in CUES if c[2] == cue.text)
            assert start == pytest.approx(src_start - source_zero, abs=0.1), cue
    # Every segment holds exactly the cues overlapping its span (MPEG-TS seconds).
    every = {c.text: c for _, path, _ in subs for c in parse_segment(path.read_text())[1]}
    assert set(every) == {text for _, _, text in CUES}
    begin = first_pts(video[0][1], "v:0")
    for seq, _, duration in video:
        overlapping = {t for t, c in every.items()
                       if zero / TICKS + c.start < begin + duration
                       and zero / TICKS + c.end > begin}
        assert held[seq] == overlapping, seq
        begin += duration
    assert len(held[video[1][0]]) == 1 and len(held[video[2][0]]) == 1  # 7.5-9 s in both


def test_subtitles_ffmpeg_cannot_convert_are_logged_and_stay_empty(
        source: Path, tmp_path: Path) -> None:
    """1. a subtitles profile whose ffmpeg fails (text to a bitmap codec: the same refusal
       as DVB bitmap subtitles to WebVTT)
    2. hlsd logs the encoder's reason (its stderr), publishes the stream to its end (exit 0) and
       lists subtitle segments without cues"""
    www = tmp_path / "www"
    config = write_config(
        tmp_path / "bitmap.yaml", temp_dir=str(tmp_path / "work"), input_location=str(source),
        segment_length=SEGMENT, index_segment_count=0, encoding_profile=["v90", "sub_en"],
        transfer_profile="www",
        v90={"ffmpeg_command": f"ffmpeg -i %s -s 160x90 -b:v 100k {VIDEO}"},
        sub_en={"ffmpeg_command": "ffmpeg -i %s -map 0:s:0 -c:s dvbsub -f webvtt -",
                "rendition": {"type": "subtitles", "language": "en"}},
        www={"transfer_type": "copy", "directory": str(www)})
    done = subprocess.run(hlsd_argv("run", str(config)), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    failed = [json.loads(line) for line in done.stdout.splitlines()
              if "subtitle encoder failed" in line]
    assert failed and ("error" in failed[0] or "stderr_tail" in failed[0]), done.stdout[-3000:]
    subs = segments(www, "sub_en")
    assert len(subs) == SECONDS // SEGMENT
    assert all(not parse_segment(path.read_text())[1] for _, path, _ in subs)


def test_fmp4_subtitles_map_to_the_video_timestamps(source: Path, tmp_path: Path) -> None:
    """1. a video rung, an audio rendition and the subtitles in fMP4 (CMAF) segments
    2. every cue, placed with its segment's X-TIMESTAMP-MAP, starts at its source time
       ± 0.1 s against the fMP4 audio's first sample (its init and first segment probed)"""
    www = tmp_path / "www"
    config = write_config(
        tmp_path / "fmp4.yaml", temp_dir=str(tmp_path / "work"), input_location=str(source),
        segment_length=SEGMENT, index_segment_count=0, segment_format="fmp4",
        encoding_profile=["v90", "aud", "sub_en"], transfer_profile="www",
        v90={"ffmpeg_command": f"ffmpeg -i %s -s 160x90 -b:v 100k {VIDEO}"},
        aud={"ffmpeg_command": "ffmpeg -i %s -map 0:a:0 -vn -c:a aac -f mpegts -",
             "rendition": {"type": "audio", "language": "en"}},
        sub_en={"ffmpeg_command": "ffmpeg -i %s -map 0:s:0 -c:s webvtt -f webvtt -",
                "rendition": {"type": "subtitles", "language": "en"}},
        www={"transfer_type": "copy", "directory": str(www)})
    done = subprocess.run(hlsd_argv("run", str(config)), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    playlist = parse_media_text((www / "live_aud.m3u8").read_text())
    first = tmp_path / "first.mp4"
    first.write_bytes((www / playlist.resources[0]).read_bytes()
                      + (www / playlist.segments[0].uri).read_bytes())
    audio_zero = first_pts(first, "a:0")
    source_zero = first_pts(source, "a:0")
    starts = {}
    for _, path, _ in segments(www, "sub_en"):
        zero, cues = parse_segment(path.read_text())
        starts.update({cue.text: zero / TICKS + cue.start - audio_zero for cue in cues})
    assert set(starts) == {text for _, _, text in CUES}
    for start, _, text in CUES:
        assert starts[text] == pytest.approx(start - source_zero, abs=0.1), text
