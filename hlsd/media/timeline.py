"""Wall-clock times of segments (EXT-X-PROGRAM-DATE-TIME), shared by every rung (pure)."""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime, timedelta

KEEP = 4096  # sequence numbers remembered: far more than any window


class Timeline:
    """Gives the same PROGRAM-DATE-TIME to the same sequence number on every rung, so
    players can line rungs up; contiguous segments continue the clock exactly, unless that
    would date a segment as ending after it was finished."""

    def __init__(self) -> None:
        self._by_seq: OrderedDict[int, datetime] = OrderedDict()
        self._end: dict[str, tuple[int, datetime]] = {}  # rung -> (last seq, its end time)

    def program_date_time(self, rung: str, seq: int, duration: float, discontinuity: bool,
                          now: datetime) -> datetime:
        start = self._by_seq.get(seq)
        if start is None:
            last = self._end.get(rung)
            latest = now - timedelta(seconds=duration)  # it just finished
            if last is not None and last[0] == seq - 1 and not discontinuity:
                # Media arriving faster than real time (an encoder catching up after a
                # stall, SRT's buffer) runs the chain ahead of the wall clock: such a
                # segment is re-anchored to end when it was finished. Its date then
                # steps back, overlapping its predecessor's: no DISCONTINUITY (the media
                # timestamps are continuous; the tag would reset players for nothing),
                # as a date applies only to its own segment (RFC 8216 §4.3.2.6) and
                # need not match playback time; every rung still gets this date.
                start = min(last[1], latest)
            else:
                start = latest
            self._by_seq[seq] = start
            while len(self._by_seq) > KEEP:
                self._by_seq.popitem(last=False)
        self._end[rung] = (seq, start + timedelta(seconds=duration))
        return start
