"""From the segmenter's events to the destinations' queues: each finished segment is
dated, measured, counted and offered to every destination."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import structlog

from hlsd.destinations import Destinations
from hlsd.events import Event, SegmentReady, StreamInfo
from hlsd.ladder import Ladder
from hlsd.metrics import Metrics
from hlsd.segment import SegmentFile
from hlsd.timeline import Timeline

log = structlog.get_logger()


class Intake:
    def __init__(self, temp_dir: Callable[[], Path], ladder: Ladder,
                 destinations: Destinations, metrics: Metrics,
                 on_first: Callable[[int, int], None]) -> None:
        self.temp_dir = temp_dir
        self.ladder = ladder
        self.destinations = destinations
        self.metrics = metrics
        self.on_first = on_first  # (pts, seq) of each segment: the first fixes the grid
        self.timeline = Timeline()
        self.next_seq = 0  # never goes back, across restarts too (kept in the state file)
        self.segments = 0
        self.dirty = False  # something the state file should remember

    async def __call__(self, rung: str, event: Event) -> None:
        if isinstance(event, StreamInfo):
            stats = self.ladder.rungs.get(rung)
            if stats is not None:
                stats.stream = event
            log.info("stream", rung=rung, codecs=event.codecs,
                     video=event.video.__dict__ if event.video else None)
        elif isinstance(event, SegmentReady):
            self._segment(rung, event)

    def _segment(self, rung: str, event: SegmentReady) -> None:
        path = Path(event.file)
        if path.parent != self.temp_dir() / rung:
            log.error("segment outside its rung's directory ignored", rung=rung, file=event.file)
            return
        self.next_seq = max(self.next_seq, event.seq + 1)
        self.on_first(event.pts, event.seq)
        pdt = self.timeline.program_date_time(rung, event.seq, event.duration,
                                              event.discontinuity, datetime.now(UTC))
        seg = SegmentFile(rung=rung, seq=event.seq, path=path, duration=event.duration,
                          nbytes=event.bytes, independent=event.keyframe,
                          discontinuity=event.discontinuity, program_date_time=pdt)
        stats = self.ladder.rungs.get(rung)
        if stats is not None:
            stats.add(event.bytes, event.duration)
            if stats.over_floor():
                log.warning("measured peak bitrate exceeds configured bandwidth", rung=rung,
                            peak=stats.peak, bandwidth=stats.configured_bandwidth)
        self.metrics.segment(rung, event.duration, event.bytes)
        self.segments += 1
        log.debug("segment", rung=rung, seq=event.seq, duration=event.duration,
                  bytes=event.bytes, pts=event.pts, discontinuity=event.discontinuity)
        seg.hold(len(self.destinations))
        if not self.destinations:
            seg.release()
        for dest in self.destinations:
            dest.offer(seg)
        self.dirty = True
