"""Subtitle segments following the reference rung: numbers, spans, discontinuities and the
end passed on in order; cues waited for (a file) or not for long (live). No processes."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from hlsd.encode.events import Event, SegmentReady, StreamInfo
from hlsd.encode.subtitlerungs import SubtitleRungs
from hlsd.encode.subtitles import SubtitleTrack
from hlsd.encode.webvtt import TICKS, Cue, parse_segment

ZERO = 126_000


class Recorder:
    """A RungSink that writes down what it is told."""

    def __init__(self) -> None:
        self.told: list[tuple[str, object]] = []

    async def event(self, rung: str, event: Event) -> None:
        self.told.append((rung, event))

    def rung_started(self, rung: str) -> None:
        self.told.append((rung, "started"))

    def rung_finished(self, rung: str) -> None:
        self.told.append((rung, "finished"))

    def encoder_restarted(self, rung: str, failed: bool = True) -> None:
        self.told.append((rung, "restarted"))


def segment(seq: int, start: float, discontinuity: bool = False) -> SegmentReady:
    return SegmentReady(seq=seq, file=f"/w/v-{seq}.ts", duration=4.0,
                        pts=ZERO + round(start * TICKS), bytes=1000, keyframe=True,
                        discontinuity=discontinuity)


def track(tmp_path: Path, live: bool = False) -> SubtitleTrack:
    t = SubtitleTrack("sub", ["ffmpeg", "-"], tmp_path, "live_sub", ZERO, live)
    t.cues = [Cue(1.0, 3.0, "one"), Cue(7.5, 9.0, "two")]
    t.latest = 7.5
    return t


async def test_each_reference_segment_gets_its_subtitle_segment(tmp_path: Path) -> None:
    """1. the reference rung cuts 0-4 s, 4-8 s (a discontinuity), 8-12 s and ends
    2. the sink hears each reference event, then the subtitle segment of the same number,
       span and discontinuity (the first one after a StreamInfo), and the end after both"""
    sink = Recorder()
    rungs = SubtitleRungs(sink)
    sub = track(tmp_path)
    sub.ended = True  # all cues known
    rungs.tracks["sub"], rungs.reference = sub, "v"
    for seq, start in enumerate((0.0, 4.0, 8.0)):
        await rungs.event("v", segment(seq, start, discontinuity=seq == 1))
    rungs.rung_finished("v")
    kinds = [(r, type(e).__name__ if not isinstance(e, str) else e) for r, e in sink.told]
    assert kinds == [("v", "SegmentReady"), ("sub", "StreamInfo"), ("sub", "SegmentReady"),
                     ("v", "SegmentReady"), ("sub", "SegmentReady"),
                     ("v", "SegmentReady"), ("sub", "SegmentReady"),
                     ("v", "finished"), ("sub", "finished")]
    subs = [e for r, e in sink.told if r == "sub" and isinstance(e, SegmentReady)]
    assert [(s.seq, s.duration, s.discontinuity) for s in subs] == [
        (0, 4.0, False), (1, 4.0, True), (2, 4.0, False)]
    texts = [[c.text for c in parse_segment(Path(s.file).read_text())[1]] for s in subs]
    assert texts == [["one"], ["two"], ["two"]]  # 7.5-9.0 in both segments it overlaps
    assert isinstance(sink.told[1][1], StreamInfo)


async def test_a_segment_waits_for_its_cues_but_a_live_one_not_for_long(
        tmp_path: Path) -> None:
    """1. a file's subtitle segment 8-12 s waits until a cue starting at 12 s or later
       arrives (here 0.2 s later), so the cue at 11 s that arrives with it is in it
    2. a live one gives up after WAIT_LIVE: written with the cues known"""
    sub = track(tmp_path)
    late = [Cue(11.0, 11.5, "late"), Cue(13.0, 14.0, "next")]
    asyncio.get_running_loop().call_later(0.2, sub.add, late)
    written = await sub.follow(segment(2, 8.0))
    assert [c.text for c in parse_segment(Path(written.file).read_text())[1]] == [
        "two", "late"]
    live = track(tmp_path / "live", live=True)
    live.workdir.mkdir()
    began = time.monotonic()
    written = await live.follow(segment(2, 8.0))
    assert 0.2 <= time.monotonic() - began < 2.0
    assert [c.text for c in parse_segment(Path(written.file).read_text())[1]] == ["two"]
