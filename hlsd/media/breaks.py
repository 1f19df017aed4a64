"""Ad breaks on the output timeline: a break asked for (an operator's cue) opens on a
segment boundary and returns on the first boundary at or after its planned end; the
segments there carry the marks (#EXT-X-DATERANGE, and #EXT-X-CUE-OUT/IN if asked for).
Pure: segments' numbers, dates and timestamps in, playlist lines out.

Every rung gets the same lines for the same segment: the first rung to reach a boundary
decides it (its date is every rung's, hlsd.media.timeline; its timestamp goes into the
SCTE-35 section), the others repeat that decision, so a stitcher sees one ID per break.
"""

from __future__ import annotations

import zlib
from collections import deque
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from hlsd.media import scte35
from hlsd.media.daterange import DateRange, cue_in, cue_out
from hlsd.media.splices import LiveSplice, event_of, returns

STYLES = ("daterange", "cue")  # ad_markers: what each break is written as
# The return may come this much before the planned end and still be "at" it: playlist
# dates are kept to the millisecond, and an encoder's frame grid rounds segment ends.
RETURN_SLACK = 0.05
SLACK_TICKS = round(RETURN_SLACK * scte35.TICKS)
# A segment's timestamp this far from a live splice's is on another clock (a backup
# input, the slate): the dates decide then.
OTHER_CLOCK = 600 * scte35.TICKS
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
MAX_BREAK = 86_400  # seconds: an operator's break lasts at most a day
KEEP = 64  # breaks remembered after they opened: far more than any window holds


class BreakExists(ValueError):
    """A break asked for with an ID another break has."""


@dataclass(frozen=True)
class Cue:
    """A break asked for: opens on the first boundary at or after segment `from_seq`;
    scheduled from a file (`at` given), at `at` seconds of media after the first segment;
    from a live input (`date` given), on the first boundary dated at or after `date` or,
    `pts` given (timeline: locked), whose timestamp is at or after `pts`. It returns at
    `back_at` (media seconds), `back_pts`, `back_date`, else `duration` after it opened."""

    id: str
    duration: float | None  # seconds: PLANNED-DURATION (None: the source did not say)
    from_seq: int = 0
    at: float | None = None
    out: bytes | None = None  # the source's section (else hlsd builds a splice_insert)
    back_at: float | None = None
    back: bytes | None = None  # the source's return section (SCTE35-IN)
    date: datetime | None = None
    pts: int | None = None  # on the input's clock, as the segments' timestamps are
    back_date: datetime | None = None
    back_pts: int | None = None

    @property
    def event_id(self) -> int:  # splice_event_id: the same ID gives the same number
        return zlib.crc32(self.id.encode())


@dataclass
class Break:
    """A break that opened on segment `start_seq`; `end_seq` once it returned."""

    cue: Cue
    start_seq: int
    start: datetime
    out: bytes  # the section that opened it (SCTE35-OUT)
    offset: float | None = None  # media seconds of its first segment
    end_seq: int | None = None
    end: datetime | None = None
    back: bytes | None = None  # the return's section (SCTE35-IN)

    def opening(self) -> DateRange:
        return DateRange(self.cue.id, self.start, planned_duration=self.cue.duration,
                         scte35_out=self.out)

    def closing(self) -> DateRange:
        """The same ID again with its END-DATE, DURATION and SCTE35-IN."""
        assert self.end is not None
        start, end = _ms(self.start), _ms(self.end)
        return DateRange(self.cue.id, start, end=end, duration=(end - start).total_seconds(),
                         planned_duration=self.cue.duration, scte35_in=self.back)

    def returns(self, seq: int, date: datetime, offset: float | None,
                pts: int | None = None, began: datetime | None = None) -> datetime | None:
        """When segment `seq` is where the break returns: its END-DATE. A scheduled break
        is timed by media seconds (a file encodes faster than real time, so its dates do
        not measure media), a live one by the timestamps (locked) or dates, an operator's
        by the playlist dates."""
        if self.end_seq is not None or seq <= self.start_seq:
            return None
        cue = self.cue
        reached = _reached(pts, cue.back_pts)
        if reached is not None:
            return date if reached else None
        if cue.back_date is not None:
            at = began or date
            return date if at >= cue.back_date - timedelta(seconds=RETURN_SLACK) else None
        if cue.back_at is not None:
            if offset is None or self.offset is None or offset < cue.back_at - RETURN_SLACK:
                return None
            return self.start + timedelta(seconds=round(offset - self.offset, 3))
        if cue.duration is None or date < self.start + timedelta(
                seconds=cue.duration - RETURN_SLACK):
            return None
        return date


class AdBreaks:
    """The breaks of one ladder; `marks` is asked once per segment per rung, in order."""

    def __init__(self, styles: tuple[str, ...] = ("daterange",)) -> None:
        self.restyle(styles)
        self.next_seq = 0  # the next boundary no rung has reached yet
        self._cues: list[Cue] = []
        self._breaks: deque[Break] = deque(maxlen=KEEP)

    def restyle(self, styles: tuple[str, ...]) -> None:
        """What the next marks are written as (ad_markers); marks written stay as they are."""
        unknown = set(styles) - set(STYLES)
        if unknown:
            raise ValueError(f"unknown ad marker styles {sorted(unknown)}")
        self.styles = styles

    def cue(self, ident: str, duration: float) -> Cue:
        """Ask for a break at the next segment boundary."""
        if not 0 < duration <= MAX_BREAK:
            raise ValueError(f"a break lasts more than 0 s and at most {MAX_BREAK} s, "
                             f"not {duration}")
        DateRange(ident, _EPOCH)  # an ID the tag can hold, or a DateRangeError (ValueError)
        if any(c.id == ident for c in self._cues) or any(b.cue.id == ident
                                                         for b in self._breaks):
            raise BreakExists(f"a break with ID {ident!r} exists already")
        cue = Cue(ident, duration, self.next_seq)
        self._cues.append(cue)
        return cue

    def schedule(self, cue: Cue) -> None:
        """A break of the source at `cue.at` media seconds (hlsd.media.splices)."""
        self._cues.append(cue)

    def splice(self, live: LiveSplice, exact: bool) -> str:
        """A live input's section: a break to open ("opens"; a repeat of one known:
        "repeat"), its return ("returns"), its cancellation ("cancelled") or nothing of
        that ("ignored"). `exact`: the segments' timestamps are on the input's clock."""
        info, event = live.info, event_of(live.info)
        if event is None:
            return "ignored"
        ident = f"splice-{event}"
        date = datetime.fromtimestamp(live.arrived + live.pre_roll, UTC)
        pts = live.pts if exact else None
        duration = info.duration
        if isinstance(info.command, scte35.SpliceInsert) and info.command.cancel:
            return "cancelled" if self.withdraw(ident) else "ignored"
        pending = next((c for c in self._cues if c.id == ident), None)
        opened = next((b for b in self._breaks if b.cue.id == ident), None)
        if info.out:
            if pending is not None or opened is not None:
                return "repeat"
            # Placed by dates, the break lasts its duration from where it opened (the
            # playlist dates run evenly, the wall clock of arrivals jitters).
            self._cues.append(Cue(
                ident, duration, out=info.raw, date=date, pts=pts,
                back_pts=None if duration is None or pts is None
                else (pts + round(duration * scte35.TICKS)) % scte35.PTS_WRAP))
            return "opens"
        if not returns(info):
            return "ignored"
        if pending is not None and pending.back is None:
            self._cues[self._cues.index(pending)] = replace(
                pending, back_date=date, back_pts=pts, back=info.raw)
            return "returns"
        if opened is not None and opened.end_seq is None and opened.cue.back is None:
            opened.cue = replace(opened.cue, back_date=date, back_pts=pts, back=info.raw)
            return "returns"
        return "repeat"

    def kept(self) -> tuple[list[Cue], list[Break]]:
        """What a restart keeps: a live input's breaks announced and not opened yet, and
        every break opened (an open one returns after the restart; the others keep their
        IDs taken). Not an operator's cue still waiting (its asker is gone with this run),
        nor a file's breaks (found again in the file at start)."""
        return ([c for c in self._cues if c.date is not None],
                [b for b in self._breaks if b.cue.at is None])

    def restore(self, cues: list[Cue], breaks: list[Break]) -> None:
        """What an earlier run kept (before any segment of this one)."""
        known = {c.id for c in self._cues} | {b.cue.id for b in self._breaks}
        self._cues += [c for c in cues if c.id not in known]
        self._breaks.extend(b for b in breaks if b.cue.id not in known)

    def withdraw(self, ident: str) -> bool:
        """Forget a break asked for that has not opened yet; False if it has (or never was)."""
        cue = next((c for c in self._cues if c.id == ident), None)
        if cue is not None:
            self._cues.remove(cue)
        return cue is not None

    def marks(self, seq: int, date: datetime, pts: int | None, offset: float | None = None,
              began: datetime | None = None) -> tuple[tuple[str, ...], list[Break]]:
        """The lines segment `seq` (starting at `date`, timestamp `pts`, `offset` media
        seconds after the first segment; `began`: when it finished less its duration, the
        wall clock a live splice is placed by, as dates may run early) carries, and the
        breaks that opened on it just now (decided by this call)."""
        opened: list[Break] = []
        for cue in [c for c in self._cues if self._due(c, seq, began or date, pts, offset)]:
            self._cues.remove(cue)
            duration = None if cue.duration is None else round(cue.duration * scte35.TICKS)
            out = cue.out or scte35.splice_insert(cue.event_id, pts, duration)
            opened.append(Break(cue, seq, date, out, offset))
        self._breaks.extend(opened)
        for brk in self._breaks:
            end = brk.returns(seq, date, offset, pts, began)
            if end is not None:
                brk.end_seq, brk.end = seq, end
                brk.back = brk.cue.back if brk.cue.out is not None else scte35.splice_insert(
                    brk.cue.event_id, pts, None, out_of_network=False)
        self.next_seq = max(self.next_seq, seq + 1)
        lines: list[str] = []
        for brk in self._breaks:
            if seq == brk.start_seq:
                lines += self._lines(brk, opening=True)
            if seq == brk.end_seq:
                lines += self._lines(brk, opening=False)
        return tuple(lines), opened

    @staticmethod
    def _due(cue: Cue, seq: int, began: datetime, pts: int | None, offset: float | None,
             ) -> bool:
        reached = _reached(pts, cue.pts)
        if reached is not None:
            return reached
        if cue.date is not None:
            return began >= cue.date - timedelta(seconds=RETURN_SLACK)
        if cue.at is None:
            return cue.from_seq <= seq
        return offset is not None and offset >= cue.at - RETURN_SLACK

    def _lines(self, brk: Break, opening: bool) -> list[str]:
        lines = []
        if "daterange" in self.styles:
            lines.append((brk.opening() if opening else brk.closing()).render())
        if "cue" in self.styles:
            duration = brk.cue.duration
            lines.append(cue_in() if not opening else cue_out(duration)
                         if duration is not None else "#EXT-X-CUE-OUT")
        return lines


def _reached(pts: int | None, target: int | None) -> bool | None:
    """Whether a segment starting at `pts` starts at or after `target` (± RETURN_SLACK,
    across the 33-bit wrap); None: no timestamps, or on other clocks."""
    if pts is None or target is None:
        return None
    ahead = (pts - target + SLACK_TICKS) % scte35.PTS_WRAP
    if ahead < OTHER_CLOCK:
        return True
    if scte35.PTS_WRAP - ahead < OTHER_CLOCK:
        return False
    return None


def _ms(moment: datetime) -> datetime:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)
