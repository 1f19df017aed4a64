"""I-frame playlists end to end: every entry's byte range, with its EXT-X-MAP, decodes alone
to one keyframe; the master lists them for video rungs only."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.daemon_util import FAST_X264, hlsd_argv, make_source, probe_duration, write_config
from tests.hlscheck import MediaPlaylistWatcher, parse_attributes

pytestmark = pytest.mark.e2e

GOP = 25  # 1 s at 25 fps: two keyframes in every 2 s segment


@pytest.fixture(scope="module")
def film(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_source(tmp_path_factory.mktemp("film") / "film.ts", 10, size="192x108",
                       gop=GOP)


def keyframes(path: Path) -> int:
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                          "packet=flags", "-of", "csv=p=0", str(path)], capture_output=True,
                         text=True, check=True).stdout
    return sum("K" in line for line in out.split())


def iframe_entries(text: str) -> list[tuple[str, int, int, str, float]]:
    """(uri, size, offset, map line, extinf) of each entry of an I-frame playlist."""
    entries, current_map, extinf, byterange = [], "", 0.0, (0, 0)
    for line in text.splitlines():
        if line.startswith("#EXT-X-MAP:"):
            current_map = line
        elif line.startswith("#EXTINF:"):
            extinf = float(line[8:].split(",")[0])
        elif line.startswith("#EXT-X-BYTERANGE:"):
            size, _, offset = line.partition(":")[2].partition("@")
            byterange = (int(size), int(offset))
        elif line and not line.startswith("#"):
            entries.append((line, *byterange, current_map, extinf))
    return entries


def decoded_pictures(data: bytes, tmp: Path) -> list[str]:
    tmp.write_bytes(data)
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                          "frame=pict_type", "-of", "csv=p=0", str(tmp)], capture_output=True,
                         text=True, check=False).stdout
    return [p.strip(",") for p in out.split() if p.strip(",")]


@pytest.mark.parametrize("segment_format", ["ts", "fmp4"])
def test_iframe_playlist_entries_decode_alone(film: Path, tmp_path: Path,
                                              segment_format: str) -> None:
    """1. a 10 s file with a keyframe every second → a video rung and an audio-only rung
    2. the master lists an I-frame stream for the video rung only (CODECS the video
       codec, RESOLUTION, BANDWIDTH), and the playlist it names exists
    3. one entry per keyframe of the rung; sum(EXTINF) = the stream ± one GOP
    4. each entry's bytes after its EXT-X-MAP bytes decode alone: one picture, type I"""
    www = tmp_path / "www"
    config = write_config(
        tmp_path / "iframes.yaml", temp_dir=str(tmp_path / "work"), input_location=str(film),
        segment_length=2, index_segment_count=0, segment_format=segment_format,
        encoding_profile=["video", "audio"], transfer_profile="www",
        video={"ffmpeg_command": f"ffmpeg -i %s {FAST_X264} -g {GOP} -keyint_min {GOP} "
                                 "-sc_threshold 0 -b:v 200k -c:a aac -b:a 64k -f mpegts -"},
        audio={"ffmpeg_command": "ffmpeg -i %s -vn -c:a aac -b:a 48k -f mpegts -"},
        www={"transfer_type": "copy", "directory": str(www)})
    done = subprocess.run(hlsd_argv("run", str(config)), capture_output=True, text=True,
                          timeout=180)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    master = (www / "live.m3u8").read_text()
    streams = [parse_attributes(line.partition(":")[2]) for line in master.splitlines()
               if line.startswith("#EXT-X-I-FRAME-STREAM-INF:")]
    assert len(streams) == 1, master
    stream = streams[0]
    assert stream["URI"] == "live_video_iframes.m3u8" and stream["RESOLUTION"] == "192x108"
    assert re.fullmatch(r"avc1\.[0-9a-f]{6}", stream["CODECS"]) and int(stream["BANDWIDTH"]) > 0
    assert not (www / "live_audio_iframes.m3u8").exists()

    text = (www / "live_video_iframes.m3u8").read_text()
    assert "#EXT-X-I-FRAMES-ONLY" in text and "#EXT-X-VERSION:5" in text
    MediaPlaylistWatcher("iframes", check_window=False).check(
        text, lambda uri: (www / uri.split('"')[0]).is_file())
    entries = iframe_entries(text)
    variant = www / "live_video.m3u8"
    assert len(entries) == keyframes(variant) >= 8
    total = sum(e[4] for e in entries)
    assert abs(total - probe_duration(variant)) <= GOP / 25, total
    for uri, size, offset, map_line, _ in entries:
        attrs = parse_attributes(map_line.partition(":")[2])
        head = (www / attrs["URI"]).read_bytes()
        if "BYTERANGE" in attrs:
            length, _, start = attrs["BYTERANGE"].partition("@")
            head = head[int(start):int(start) + int(length)]
        body = (www / uri).read_bytes()[offset:offset + size]
        assert decoded_pictures(head + body, tmp_path / "entry.bin") == ["I"], (uri, offset)
