"""A live ladder with an audio rendition: the real daemon, a live test source, one shared
encoder (the audio encoded once for the ladder), every playlist checked against RFC 8216
poll after poll; then fMP4 with LL-HLS parts and rendition reports for the audio too."""

from __future__ import annotations

import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from hlsd.encode.webvtt import TICKS, parse_segment
from tests.daemon_util import FAST_X264, descendants, read, running, wait_for, write_config
from tests.fixtures.media import probe_packets
from tests.hlscheck import MediaPlaylistWatcher, check_master, parse_media_text
from tests.serve.test_playback import origin_url
from tests.service.test_renditions_e2e import CUES, source

pytestmark = pytest.mark.e2e
__all__ = ["source"]  # the fixture: test_renditions_e2e.py's Matroska file

SOURCE = ("ffmpeg -re -f lavfi -i testsrc2=size=320x180:rate=25 "
          "-re -f lavfi -i sine=frequency=440:sample_rate=48000")
LADDER = {
    "v180": f"{SOURCE} -map 0:v {FAST_X264} -b:v 300k -an -f mpegts -",
    "v90": f"{SOURCE} -map 0:v -s 160x90 {FAST_X264} -b:v 100k -an -f mpegts -",
    "aud": f"{SOURCE} -map 1:a -vn -c:a aac -b:a 64k -f mpegts -",
}
ALIGNED = 1 / 25 + 1024 / 48000  # a video frame (keyframe after a boundary) + an AAC frame


def config(tmp: Path, **extra: Any) -> Path:
    profiles: dict[str, Any] = {name: {"ffmpeg_command": cmd} for name, cmd in LADDER.items()}
    profiles["aud"]["rendition"] = {"type": "audio", "language": "en", "name": "English"}
    return write_config(
        tmp / "live.yaml", temp_dir=str(tmp / "work"), input_location="lavfi", live=True,
        segment_length=2, index_segment_count=6, encoding_profile=list(LADDER),
        encoder_mode="shared", transfer_profile="www",
        www={"transfer_type": "copy", "directory": str(tmp / "www")},
        http={"listen": "127.0.0.1", "port": 0}, **profiles, **extra)


def ffmpeg_argvs(pid: int) -> list[list[str]]:
    argvs = []
    for child in descendants(pid):
        try:
            argv = Path(f"/proc/{child}/cmdline").read_bytes().decode().split("\0")
        except OSError:
            continue
        if argv and Path(argv[0]).name == "ffmpeg":
            argvs.append(argv)
    return argvs


def first_pts(path: Path, stream: str) -> float:
    return min(p.pts for p in probe_packets(path, stream) if p.pts is not None)


def test_live_ladder_with_an_audio_rendition(tmp_path: Path) -> None:
    """1. a live ladder of two video rungs and an audio rendition, encoder_mode shared:
       one ffmpeg, with one audio encoder
    2. for 8 s every playlist is polled and checked (RFC 8216: no violation), the master
       lists the rendition, each video variant names it
    3. the audio rendition lists the video's sequence numbers, each segment starting
       within a video frame and an audio frame of the video's"""
    www = tmp_path / "www"
    log = tmp_path / "hlsd.log"
    with running(config(tmp_path), log) as daemon:
        for name in LADDER:
            wait_for(lambda n=name: (read(www / f"live_{n}.m3u8") or "").count("#EXTINF") >= 3,
                     60, f"three segments in live_{name}.m3u8")
        argvs = ffmpeg_argvs(daemon.pid)
        assert len(argvs) == 1, argvs
        assert argvs[0].count("-c:a") == 1 and argvs[0].count("-an") == 2
        watchers = {n: MediaPlaylistWatcher(f"live_{n}.m3u8") for n in LADDER}
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:
            for name, watcher in watchers.items():
                text = read(www / f"live_{name}.m3u8")
                if text:
                    watcher.check(text, exists=lambda uri: (www / uri).exists())
            master = read(www / "live.m3u8") or ""
            for attrs in check_master(master, lambda u: (www / u).is_file()):
                assert attrs["AUDIO"] == "aud" and attrs["CODECS"].endswith(",mp4a.40.2")
            assert '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud"' in master
            time.sleep(0.5)
        video = parse_media_text(read(www / "live_v180.m3u8") or "").segments
        audio = {s.msn: s for s in parse_media_text(read(www / "live_aud.m3u8") or "").segments}
        compared = 0
        for segment in video[-4:]:
            assert segment.msn in audio, (segment.msn, sorted(audio))
            try:
                gap = first_pts(www / audio[segment.msn].uri, "a:0") - first_pts(
                    www / segment.uri, "v:0")
            except FileNotFoundError:  # left the window meanwhile
                continue
            assert abs(gap) <= ALIGNED, (segment.msn, gap)
            compared += 1
        assert compared >= 2
        assert daemon.poll() is None, read(log)


def test_fmp4_low_latency_gives_the_audio_rendition_parts_and_reports(tmp_path: Path) -> None:
    """1. the same ladder in fMP4 with LL-HLS (0.5 s parts) behind the built-in origin
    2. the audio rendition's playlist has parts and a preload hint; the video's has a
       rendition report for the audio rendition; the master lists it"""
    log = tmp_path / "hlsd.log"
    with running(config(tmp_path, segment_format="fmp4", low_latency={"part_length": 0.5}),
                 log) as daemon:
        url = wait_for(lambda: origin_url(log), 30, "the origin's URL")

        def get(name: str) -> str:
            with urllib.request.urlopen(url + name, timeout=10) as answer:
                return str(answer.read().decode())

        def fetched(name: str) -> str | None:
            try:
                return get(name)
            except OSError:  # not there yet
                return None

        def listed(name: str) -> str | None:
            text = fetched(name)
            return text if text is not None and text.count("#EXTINF") >= 2 else None

        audio = wait_for(lambda: listed("live_aud.m3u8"), 60, "two audio segments")
        assert "#EXT-X-PART:" in audio and "#EXT-X-PRELOAD-HINT:TYPE=PART" in audio
        assert "#EXT-X-MAP:" in audio
        video = wait_for(lambda: listed("live_v180.m3u8"), 30, "two video segments")
        assert '#EXT-X-RENDITION-REPORT:URI="live_aud.m3u8"' in video
        master = wait_for(lambda: fetched("live.m3u8"), 30, "the master")
        assert 'TYPE=AUDIO,GROUP-ID="aud"' in master
        assert daemon.poll() is None, read(log)


def test_live_subtitles_follow_the_video(source: Path, tmp_path: Path) -> None:
    """1. the Matroska file of test_renditions_e2e.py read in real time (-re, live: true),
       2 s segments: a video rung, an audio rendition, a subtitle rendition
    2. once the video lists 6 segments, the subtitle playlist lists the same numbers and
       EXTINFs, RFC-checked
    3. the cue across 8 s is in the segments it overlaps, at its source time ± 0.1 s
       against the audio"""
    read_live = "ffmpeg -re -i %s"
    www = tmp_path / "www"
    config = write_config(
        tmp_path / "live.yaml", temp_dir=str(tmp_path / "work"), input_location=str(source),
        live=True, segment_length=2, index_segment_count=0, encoder_mode="per_rung",
        encoding_profile=["v90", "aud", "sub"], transfer_profile="www",
        www={"transfer_type": "copy", "directory": str(www)},
        v90={"ffmpeg_command": f"{read_live} -map 0:v:0 -s 160x90 {FAST_X264} -b:v 100k "
                               "-an -f mpegts -"},
        aud={"ffmpeg_command": f"{read_live} -map 0:a:0 -vn -c:a aac -f mpegts -",
             "rendition": {"type": "audio", "language": "en"}},
        sub={"ffmpeg_command": f"{read_live} -map 0:s:0 -c:s webvtt -f webvtt -",
             "rendition": {"type": "subtitles", "language": "en"}})
    with running(config, tmp_path / "hlsd.log") as daemon:
        wait_for(lambda: (read(www / "live_v90.m3u8") or "").count("#EXTINF") >= 6, 60,
                 "six video segments")
        subs = wait_for(lambda: parse_media_text(text).segments if (text := read(
            www / "live_sub.m3u8")) and text.count("#EXTINF") >= 6 else None, 10,
                        "six subtitle segments")
        video = parse_media_text(read(www / "live_v90.m3u8") or "").segments
        MediaPlaylistWatcher("live_sub.m3u8").check(
            read(www / "live_sub.m3u8") or "", exists=lambda uri: (www / uri).exists())
        assert [(s.msn, s.extinf) for s in subs[:6]] == [(s.msn, s.extinf) for s in video[:6]]
        assert '#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="sub"' in (read(www / "live.m3u8") or "")
        audio = parse_media_text(read(www / "live_aud.m3u8") or "").segments
        audio_zero = first_pts(www / audio[0].uri, "a:0")  # subtitles follow the audio
        source_zero = first_pts(source, "a:0")
        start, text = CUES[1][0], CUES[1][2]
        holding = []
        for segment in subs[:6]:
            zero, cues = parse_segment((www / segment.uri).read_text())
            for cue in cues:
                if cue.text == text:
                    holding.append(segment.msn)
                    assert zero / TICKS + cue.start - audio_zero == pytest.approx(
                        start - source_zero, abs=0.1)
        assert holding == [subs[3].msn, subs[4].msn]  # 7.5-9.0 s: the 6-8 and 8-10 s segments
        assert daemon.poll() is None
