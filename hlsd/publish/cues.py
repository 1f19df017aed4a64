"""Where an operator's cue meets the segments: a break asked for is answered once it has
opened on a segment boundary (its ID and START-DATE known), and the intake asks here
which marks each segment carries (hlsd.media.breaks)."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime

import structlog

from hlsd.media.breaks import AdBreaks, Break, Cue
from hlsd.media.splices import LiveSplice, PlannedBreak, event_of

log = structlog.get_logger()


class CueDesk:
    def __init__(self, styles: tuple[str, ...]) -> None:
        self.breaks = AdBreaks(styles)
        self._waiting: dict[str, asyncio.Future[Break]] = {}

    def restyle(self, styles: tuple[str, ...]) -> None:
        self.breaks.restyle(styles)

    async def cue(self, duration: float, ident: str | None = None) -> Break:
        """A break at the next segment boundary of every rung; returns once it opened.
        ValueError: a duration ≤ 0, or an ID in use."""
        ident = ident or f"hlsd-{time.time_ns() // 1_000_000}"
        self.breaks.cue(ident, duration)
        waiter: asyncio.Future[Break] = asyncio.get_running_loop().create_future()
        self._waiting[ident] = waiter
        log.info("ad break asked for", id=ident, duration=duration)
        try:
            return await waiter
        finally:
            self._waiting.pop(ident, None)
            if waiter.cancelled() or not waiter.done():  # given up on: never opens later
                self.breaks.withdraw(ident)

    @property
    def waiting(self) -> int:
        """Cues asked for whose break has not opened yet."""
        return len(self._waiting)

    def schedule(self, planned: list[PlannedBreak]) -> None:
        """The source's breaks, found before encoding (a file input's SCTE-35)."""
        for brk in planned:
            self.breaks.schedule(Cue(brk.id, brk.duration, at=brk.at, out=brk.out,
                                     back_at=brk.back_at, back=brk.back))
            log.info("ad break in the source", id=brk.id, at=brk.at, duration=brk.duration,
                     returns_at=brk.back_at)

    def splice(self, live: LiveSplice, exact: bool) -> None:
        """A section of the live input on air (hlsd.ingest.splices): a break to open at
        the first boundary at or after its splice point, its return, or its cancellation;
        repeats of one splice event are one break."""
        what = self.breaks.splice(live, exact)
        report = log.debug if what in ("repeat", "ignored") else log.info
        report("SCTE-35 from the input", splice=what, splice_event_id=event_of(live.info),
               pre_roll=round(live.pre_roll, 3), duration=live.info.duration)
        if not live.placed and what != "repeat":
            log.warning("SCTE-35 splice time not believed (the input's clock jumped?): "
                        "taken as immediate", splice_event_id=event_of(live.info))

    def marks(self, seq: int, date: datetime, pts: int | None,
              offset: float | None = None, began: datetime | None = None) -> tuple[str, ...]:
        lines, opened = self.breaks.marks(seq, date, pts, offset, began)
        for brk in opened:
            log.info("ad break opens", id=brk.cue.id, seq=seq, start_date=brk.start.isoformat(),
                     duration=brk.cue.duration)
            waiter = self._waiting.get(brk.cue.id)
            if waiter is not None and not waiter.done():
                waiter.set_result(brk)
        return lines
