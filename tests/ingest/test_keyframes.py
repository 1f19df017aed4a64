"""Encoders fed by the ingest stage start at a keyframe: the packets that tell where one
begins (hlsd.ingest.packets.video_starts) and the subscribers' gate."""

from __future__ import annotations

import os
import subprocess

from hlsd.ingest.packets import video_starts
from hlsd.ingest.subscribers import Subscribers
from tests.fixtures.media import MakeTs

CHUNK = 188 * 20


def chunks(data: bytes) -> list[memoryview]:
    return [memoryview(data[i:i + CHUNK]) for i in range(0, len(data), CHUNK)]


def keyframes(path: str) -> int:
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0",
                          "-show_entries", "packet=flags", "-of", "csv=p=0", path],
                         capture_output=True, text=True, check=True).stdout
    return sum(1 for line in out.splitlines() if line.startswith("K"))


def test_keyframes_are_found_where_ffmpeg_marked_them(make_ts: MakeTs) -> None:
    source = make_ts(4, gop=25)  # a keyframe every second
    found = [video_starts(c) for c in chunks(source.read_bytes())]
    assert sum(key for _, key in found) == keyframes(str(source)) >= 4
    assert sum(video for video, _ in found) > 4 * sum(key for _, key in found)


def test_audio_has_no_video_starts(make_ts: MakeTs) -> None:
    source = make_ts(2, video=False)
    assert not any(v or k for v, k in map(video_starts, chunks(source.read_bytes())))


async def test_a_new_subscriber_starts_at_the_first_key_chunk() -> None:
    subs = Subscribers()
    read_fd = subs.subscribe("r")
    try:
        subs.publish(memoryview(b"a" * 188), key=False)  # mid-GOP: not a place to start
        subs.publish(memoryview(b"b" * 188), key=True)
        subs.publish(memoryview(b"c" * 188), key=False)  # started: everything from here
        assert os.read(read_fd, 1000) == b"b" * 188 + b"c" * 188
    finally:
        subs.drop("r")
        os.close(read_fd)
