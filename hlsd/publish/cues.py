"""Where an operator's cue meets the segments: a break asked for is answered once it has
opened on a segment boundary (its ID and START-DATE known), and the intake asks here
which marks each segment carries (hlsd.media.breaks).

`take` is the one door for a cue from outside (the control socket, the admin listener's
POST /cue): it checks the request, asks for the break and waits for its boundary."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from datetime import datetime
from typing import Any, Literal

import structlog

from hlsd.media.breaks import AdBreaks, Break, BreakExists, Cue
from hlsd.media.breakstate import BreakState
from hlsd.media.playlist import format_pdt
from hlsd.media.splices import LiveSplice, PlannedBreak, event_of

log = structlog.get_logger()

CUE_WAIT = 10.0  # seconds, plus 3 target durations, an operator's cue waits for a segment


def cue_wait(target_duration: float) -> float:
    return CUE_WAIT + 3 * target_duration


class CueRefused(Exception):
    """A cue not taken: `why` is "bad" (the request), "in_use" (its ID) or "late" (no
    segment came in time: the break was withdrawn)."""

    def __init__(self, why: Literal["bad", "in_use", "late"], message: str) -> None:
        super().__init__(message)
        self.why = why


class CueDesk:
    def __init__(self, styles: tuple[str, ...], wait: float = CUE_WAIT) -> None:
        """`wait`: seconds a cue taken from outside waits for its boundary."""
        self.breaks = AdBreaks(styles)
        self.wait = wait
        self._waiting: dict[str, asyncio.Future[Break]] = {}

    def reconfigure(self, styles: tuple[str, ...], wait: float) -> None:
        self.breaks.restyle(styles)
        self.wait = wait

    def state(self) -> BreakState:
        """What must outlive a restart: the live input's breaks announced and not opened
        yet, and the breaks opened (those still open return after it)."""
        return BreakState(*self.breaks.kept())

    def restore(self, state: BreakState) -> None:
        self.breaks.restore(state.pending, state.opened)
        for brk in state.opened:
            if brk.end_seq is None:
                log.info("ad break still open after the restart", id=brk.cue.id,
                         start_date=brk.start.isoformat(), duration=brk.cue.duration)
        for cue in state.pending:
            log.info("ad break still to open after the restart", id=cue.id,
                     at=cue.date.isoformat() if cue.date else None)

    async def take(self, duration: object, ident: object) -> dict[str, Any]:
        """A cue from outside: `duration` seconds (a number, or a string of one), `ident`
        None or a string (empty: none). Answers the break's id, start_date (its PDT) and
        seq once it opened; CueRefused otherwise."""
        if isinstance(duration, str):
            with contextlib.suppress(ValueError):  # else refused below, as any non-number
                duration = float(duration)
        if not isinstance(duration, int | float) or isinstance(duration, bool) \
                or not math.isfinite(duration) or not (ident is None or isinstance(ident, str)):
            raise CueRefused("bad", "cue needs a number duration and a string id")
        try:
            brk = await asyncio.wait_for(self.cue(float(duration), ident or None), self.wait)
        except TimeoutError:
            raise CueRefused("late", f"no segment came within {self.wait:g} s: is the input "
                                     "flowing? The break was withdrawn") from None
        except BreakExists as exc:
            raise CueRefused("in_use", str(exc)) from None
        except ValueError as exc:  # a duration out of bounds, an ID the tag cannot hold
            raise CueRefused("bad", str(exc)) from None
        return {"id": brk.cue.id, "start_date": format_pdt(brk.start), "seq": brk.start_seq}

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
