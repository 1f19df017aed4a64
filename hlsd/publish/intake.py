"""From the segmenters' events to the destinations' queues: each finished segment is
dated, measured, counted and offered to every destination.

The Intake is the RungSink the encode stage reports to (hlsd.encode.rungs).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import structlog

from hlsd.encode.events import Event, InitReady, PartReady, SegmentReady, StreamInfo
from hlsd.media.gaps import LadderProgress
from hlsd.media.ladder import Ladder, RungMedia
from hlsd.media.lowlatency import Part
from hlsd.media.timeline import Timeline
from hlsd.publish.cipher import encrypt_file
from hlsd.publish.cues import CueDesk
from hlsd.publish.destinations import DestinationSet
from hlsd.publish.gaps import GapFiller
from hlsd.publish.keys import KeyRing
from hlsd.publish.live import LiveSink
from hlsd.publish.metrics import IntakeMetrics
from hlsd.publish.segment import InitFile, KeyUse, SegmentFile

log = structlog.get_logger()

PTS_WRAP = 1 << 33


class Intake:
    def __init__(self, temp_dir: Path, ladder: Ladder, destinations: DestinationSet,
                 metrics: IntakeMetrics, keys: KeyRing | None = None,
                 live: LiveSink | None = None, gaps: LadderProgress | None = None,
                 cues: CueDesk | None = None) -> None:
        """`gaps`: a live ladder's progress, to list the segments a rung could not produce
        as EXT-X-GAP (hlsd.publish.gaps); None: segments only, as they come."""
        self._temp_dir = temp_dir
        self.ladder = ladder
        self.destinations = destinations
        self.metrics = metrics
        self.keys = keys  # encryption on: every segment is encrypted before it is offered
        self.live = live  # LL-HLS: parts and segments also go to the origin's live edge
        self.timeline = Timeline()
        self.cues = cues or CueDesk(("daterange",))  # ad breaks: their marks per segment
        self.gaps = None if gaps is None else GapFiller(gaps, ladder, self.timeline,
                                                        destinations, metrics, live,
                                                        cues=self.cues)
        self.segments = 0  # segments taken in by this daemon
        self._inits: dict[str, InitFile] = {}  # rung -> its newest init segment
        self._first_pts: dict[str, int] = {}  # rung -> its first segment's (media offsets)

    async def run(self) -> None:
        """Lists gaps as their deadlines come (a live ladder); returns at once otherwise."""
        if self.gaps is not None:
            await self.gaps.run()

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
                frame_rate=video.fps if video else None,
                captions=video.captions if video else False,
                channels=event.audio.channels if event.audio else None))
            log.info("stream", rung=rung, codecs=event.codecs,
                     video=video.__dict__ if video else None)
        elif isinstance(event, InitReady):
            self._init(rung, event)
            if self.live is not None and rung in self._inits:
                init = self._inits[rung]
                data = await _read(init.path)
                if data is not None:  # gone already: the segments name it, served from disk
                    self.live.init(rung, init.name, data)
        elif isinstance(event, PartReady):
            await self._part(rung, event)
        elif isinstance(event, SegmentReady):
            await self._segment(rung, event)

    def rung_started(self, rung: str) -> None:
        self.destinations.add_rung(rung)
        if self.gaps is not None:
            self.gaps.restarting(rung)

    def rung_finished(self, rung: str) -> None:
        self.destinations.finish_rung(rung)
        if self.live is not None:
            self.live.end(rung)

    def encoder_restarted(self, rung: str, failed: bool = True) -> None:
        if failed:  # a switch of input is no failure of the encoder
            self.metrics.encoder_restart(rung)
        if self.gaps is not None:
            self.gaps.restarting(rung)

    # -- segments ------------------------------------------------------------------------
    def _inside(self, rung: str, file: str) -> Path | None:
        path = Path(file)
        if path.parent != self._temp_dir / rung:
            log.error("file outside its rung's directory ignored", rung=rung, file=file)
            return None
        return path

    def _offset(self, rung: str, pts: int | None) -> float | None:
        """Media seconds from the rung's first segment to one starting at `pts`."""
        if pts is None:
            return None
        first = self._first_pts.setdefault(rung, pts)
        return (pts - first) % PTS_WRAP / 90_000

    def _init(self, rung: str, event: InitReady) -> None:
        path = self._inside(rung, event.file)
        if path is None:
            return
        old = self._inits.get(rung)
        if old is not None and old.path != path:
            old.supersede()
        if old is None or old.path != path:
            self._inits[rung] = InitFile(path)
            log.info("init segment", rung=rung, file=path.name, bytes=event.bytes)

    async def _part(self, rung: str, event: PartReady) -> None:
        """A part for the live edge only: read, then its file goes (the segment has it)."""
        path = self._inside(rung, event.file)
        if path is None:
            return
        if self.gaps is not None:
            taken = self.gaps.part(rung, event)
            if taken is None:  # its segment's number is a gap already
                path.unlink(missing_ok=True)
                return
            event = taken
        data = await _read(path) if self.live is not None else None
        path.unlink(missing_ok=True)
        if self.live is None:
            return
        if data is None:
            log.error("part file missing; skipped", rung=rung, file=event.file)
            return
        init = self._inits.get(rung)
        self.live.part(rung, Part(event.seq, event.index, path.name, event.duration,
                                  event.independent), data, last=event.last,
                       discontinuity=event.discontinuity,
                       map_name=init.name if init else None)

    async def _segment(self, rung: str, event: SegmentReady) -> None:
        path = self._inside(rung, event.file)
        if path is None or (self.gaps is not None and self.gaps.late(rung, event, path)):
            return
        init = self._inits.get(rung)
        if event.init is not None and (init is None or str(init.path) != event.init):
            log.error("segment names an init segment never announced; skipped", rung=rung,
                      seq=event.seq, init=event.init)
            return
        nbytes, key = event.bytes, None
        if self.keys is not None:
            segment_key = self.keys.key_for(event.seq)
            use = KeyUse(segment_key, self.keys.iv_for(segment_key, rung, event.seq))
            try:
                nbytes = await asyncio.to_thread(encrypt_file, path, use.key.material(),
                                                 bytes.fromhex(use.iv))
            except OSError as exc:  # disk full, file gone: this segment is lost, not more
                log.error("cannot encrypt segment; skipped", rung=rung, seq=event.seq,
                          error=str(exc))
                path.unlink(missing_ok=True)
                return
            key = use
        keyframes = () if key is not None else event.keyframes  # ranges of clear bytes
        iframe_bytes = sum(size for _, size, _ in keyframes) if keyframes else None
        data = await _read(path) if self.live is not None else None
        # Nothing is awaited from here on: the gaps before this segment, then the segment,
        # reach every destination's lane and the live edge in the rung's order.
        if self.gaps is not None:
            taken = self.gaps.arrived(rung, event, path)
            if taken is None:  # a gap took its number meanwhile
                return
            event = taken
        now = datetime.now(UTC)
        pdt = self.timeline.program_date_time(rung, event.seq, event.duration,
                                              event.discontinuity, now)
        seg = SegmentFile(rung=rung, seq=event.seq, path=path, duration=event.duration,
                          nbytes=nbytes, independent=event.keyframe,
                          discontinuity=event.discontinuity, program_date_time=pdt,
                          init=init if event.init is not None else None, key=key,
                          pts=event.pts, keyframes=keyframes, psi=event.psi,
                          marks=self.cues.marks(event.seq, pdt, event.pts,
                                                self._offset(rung, event.pts),
                                                now - timedelta(seconds=event.duration)))
        if self.ladder.measure(rung, event.bytes, event.duration, iframe_bytes):
            stats = self.ladder.rungs[rung]
            log.warning("measured peak bitrate exceeds configured bandwidth", rung=rung,
                        peak=stats.peak, bandwidth=stats.configured_bandwidth)
        self.metrics.segment(rung, event.duration, event.bytes)
        if event.corrupt:
            self.metrics.corrupt_packets(rung, event.corrupt)
            log.warning("corrupt input skipped", rung=rung, seq=event.seq,
                        packets=event.corrupt)
        self.segments += 1
        if self.live is not None and data is not None:
            self.live.segment(seg, data)
        log.debug("segment", rung=rung, seq=event.seq, duration=event.duration,
                  bytes=event.bytes, pts=event.pts, discontinuity=event.discontinuity)
        self.destinations.offer(seg)


async def _read(path: Path) -> bytes | None:
    try:
        return await asyncio.to_thread(path.read_bytes)
    except OSError:
        return None
