"""EXT-X-GAP entries for the segments a rung of a live ladder could not produce (a per-rung
encoder down while the others go on): hlsd.media.gaps decides which and when; this lists
them in the rung's order, at every destination (through the same lanes as its segments)
and at the live edge, and drops the late segments whose number a gap took.

Owned by the intake (hlsd.publish.intake), which hands it each segment before offering it;
`run()` lists the gaps whose deadline comes between segments.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import structlog

from hlsd.encode.events import PartReady, SegmentReady
from hlsd.media.gaps import LadderProgress, Missing
from hlsd.media.ladder import Ladder
from hlsd.media.timeline import Timeline
from hlsd.publish.cues import CueDesk
from hlsd.publish.destinations import DestinationSet
from hlsd.publish.live import LiveSink
from hlsd.publish.metrics import IntakeMetrics
from hlsd.publish.segment import SegmentFile

log = structlog.get_logger()

# The segmenter's names: <prefix>-<seq, at least 5 digits><extension> (ext/src/writer.c).
SEGMENT_NAME = re.compile(r"^(?P<stem>.+-)\d+(?P<ext>\.[A-Za-z0-9]+)$")


class GapFiller:
    """A live ladder's gaps: listed as their deadline comes, or before a segment that
    jumped past them; late segments dropped."""

    def __init__(self, progress: LadderProgress, ladder: Ladder, timeline: Timeline,
                 destinations: DestinationSet, metrics: IntakeMetrics,
                 live: LiveSink | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 cues: CueDesk | None = None) -> None:
        self.progress = progress
        self.ladder = ladder
        self.timeline = timeline
        self.destinations = destinations
        self.metrics = metrics
        self.live = live
        self._clock = clock
        self._cues = cues  # a gap carries the ad markers its siblings' segment does
        self._names: dict[str, tuple[Path, str, str]] = {}  # rung -> (dir, stem, extension)
        # Rungs whose dropped late segment began a new run (a restarted encoder's first):
        # the next segment listed carries that discontinuity.
        self._broken: set[str] = set()
        self._streaks: dict[str, list[int]] = {}  # rung -> [first, last] gap listed in a row
        self._changed = asyncio.Event()

    def _sync(self) -> None:
        if self.progress.rungs != list(self.ladder.rungs):  # a reload added or removed some
            self.progress.set_rungs(self.ladder.rungs)

    # -- what the intake hands on --------------------------------------------------------
    def late(self, rung: str, event: SegmentReady, path: Path) -> bool:
        """True if a gap took the segment's number already: dropped (logged, counted, its
        file deleted). Asked before any work is spent on it."""
        self._sync()
        if not self.progress.listed(rung, event.seq):
            return False
        self._drop(rung, event, path)
        return True

    def arrived(self, rung: str, event: SegmentReady, path: Path) -> SegmentReady | None:
        """The segment is about to be offered: the gaps before it are offered first. Returns
        it (marked as a discontinuity where a dropped segment began its run), or None when
        it is late (dropped). The caller offers it before awaiting anything, so the rung's
        gaps and segments reach every lane in order."""
        self._sync()
        self._changed.set()  # the deadlines moved
        missing = self.progress.segment(rung, event.seq, event.duration, self._clock())
        if missing is None:
            self._drop(rung, event, path)
            return None
        match = SEGMENT_NAME.match(path.name)
        self._names[rung] = ((path.parent, match["stem"], match["ext"]) if match
                             else (path.parent, f"{path.stem}-", path.suffix))
        for gap in missing:
            self._offer(gap)
        streak = self._streaks.pop(rung, None)
        if streak is not None:
            log.info("rung producing again after gaps", rung=rung, seq=event.seq,
                     gaps=streak[1] - streak[0] + 1, first_gap=streak[0], last_gap=streak[1])
        if rung in self._broken:
            self._broken.discard(rung)
            event = replace(event, discontinuity=True)
        return event

    def part(self, rung: str, event: PartReady) -> PartReady | None:
        """A part for the live edge; None if its segment's number is a gap already."""
        self._sync()
        if not self.progress.part(rung, event.seq, self._clock()):
            return None
        self._changed.set()
        return replace(event, discontinuity=True) if rung in self._broken else event

    def restarting(self, rung: str) -> None:
        """The rung's encoder is being (re)started: its next segment takes longer."""
        self._sync()
        self.progress.restarting(rung, self._clock())
        self._changed.set()

    # -- gaps ----------------------------------------------------------------------------
    async def run(self) -> None:
        """List each gap when its deadline comes (woken by every segment: they move it)."""
        while True:
            self._changed.clear()
            self.list_due()
            when = self.progress.next_due()
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(None if when is None
                                           else max(0.0, when - self._clock())):
                    await self._changed.wait()

    def list_due(self) -> int:
        """Offer the gaps whose deadline has come; how many (one step of `run`)."""
        self._sync()
        due = self.progress.due(self._clock())
        for gap in due:
            self._offer(gap)
        return len(due)

    def _offer(self, gap: Missing) -> None:
        folder, stem, ext = self._names[gap.rung]
        pdt = self.timeline.program_date_time(gap.rung, gap.seq, gap.duration, False,
                                              datetime.now(UTC))
        seg = SegmentFile(rung=gap.rung, seq=gap.seq, path=folder / f"{stem}{gap.seq:05d}{ext}",
                          duration=gap.duration, nbytes=0, independent=True,
                          discontinuity=False, program_date_time=pdt, gap=True,
                          marks=self._cues.marks(gap.seq, pdt, None) if self._cues else ())
        streak = self._streaks.setdefault(gap.rung, [gap.seq, gap.seq])
        if streak[0] == gap.seq:
            log.info("rung behind its siblings: missing segments listed as gaps",
                     rung=gap.rung, seq=gap.seq)
        streak[1] = gap.seq
        self.metrics.gap(gap.rung)
        if self.live is not None:
            self.live.segment(seg, b"")
        self.destinations.offer(seg)

    def _drop(self, rung: str, event: SegmentReady, path: Path) -> None:
        path.unlink(missing_ok=True)
        self.metrics.late_segment(rung)
        if event.discontinuity:
            self._broken.add(rung)
        log.info("late segment dropped: a gap took its number", rung=rung, seq=event.seq)
