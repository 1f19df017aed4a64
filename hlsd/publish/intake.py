"""From the segmenters' events to the destinations' queues: each finished segment is
dated, measured, counted and offered to every destination.

The Intake is the RungSink the encode stage reports to (hlsd.encode.rungs).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import structlog

from hlsd.encode.events import Event, SegmentReady, StreamInfo
from hlsd.media.ladder import Ladder, RungMedia
from hlsd.media.timeline import Timeline
from hlsd.publish.destinations import DestinationSet
from hlsd.publish.metrics import IntakeMetrics
from hlsd.publish.segment import SegmentFile

log = structlog.get_logger()


class Intake:
    def __init__(self, temp_dir: Path, ladder: Ladder, destinations: DestinationSet,
                 metrics: IntakeMetrics) -> None:
        self._temp_dir = temp_dir
        self.ladder = ladder
        self.destinations = destinations
        self.metrics = metrics
        self.timeline = Timeline()
        self.segments = 0  # segments taken in by this daemon

    def reconfigure(self, temp_dir: Path) -> None:
        """A reload moved temp_dir (every rung restarts into it)."""
        self._temp_dir = temp_dir

    # -- RungSink ------------------------------------------------------------------------
    async def event(self, rung: str, event: Event) -> None:
        if isinstance(event, StreamInfo):
            video = event.video
            self.ladder.describe(rung, RungMedia(
                codecs=event.codecs,
                resolution=(video.width, video.height) if video else None,
                frame_rate=video.fps if video else None))
            log.info("stream", rung=rung, codecs=event.codecs,
                     video=video.__dict__ if video else None)
        elif isinstance(event, SegmentReady):
            self._segment(rung, event)

    def rung_started(self, rung: str) -> None:
        self.destinations.add_rung(rung)

    def rung_finished(self, rung: str) -> None:
        self.destinations.finish_rung(rung)

    def encoder_restarted(self, rung: str) -> None:
        self.metrics.encoder_restart(rung)

    # -- segments ------------------------------------------------------------------------
    def _segment(self, rung: str, event: SegmentReady) -> None:
        path = Path(event.file)
        if path.parent != self._temp_dir / rung:
            log.error("segment outside its rung's directory ignored", rung=rung, file=event.file)
            return
        pdt = self.timeline.program_date_time(rung, event.seq, event.duration,
                                              event.discontinuity, datetime.now(UTC))
        seg = SegmentFile(rung=rung, seq=event.seq, path=path, duration=event.duration,
                          nbytes=event.bytes, independent=event.keyframe,
                          discontinuity=event.discontinuity, program_date_time=pdt)
        if self.ladder.measure(rung, event.bytes, event.duration):
            stats = self.ladder.rungs[rung]
            log.warning("measured peak bitrate exceeds configured bandwidth", rung=rung,
                        peak=stats.peak, bandwidth=stats.configured_bandwidth)
        self.metrics.segment(rung, event.duration, event.bytes)
        if event.corrupt:
            self.metrics.corrupt_packets(rung, event.corrupt)
            log.warning("corrupt input skipped", rung=rung, seq=event.seq,
                        packets=event.corrupt)
        self.segments += 1
        log.debug("segment", rung=rung, seq=event.seq, duration=event.duration,
                  bytes=event.bytes, pts=event.pts, discontinuity=event.discontinuity)
        self.destinations.offer(seg)
