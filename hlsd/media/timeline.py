"""Wall-clock times of segments (EXT-X-PROGRAM-DATE-TIME), shared by every rung (pure)."""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime, timedelta

KEEP = 4096  # sequence numbers remembered: far more than any window


class Timeline:
    """Gives the same PROGRAM-DATE-TIME to the same sequence number on every rung, so
    players can line rungs up; contiguous segments continue the clock exactly."""

    def __init__(self) -> None:
        self._by_seq: OrderedDict[int, datetime] = OrderedDict()
        self._end: dict[str, tuple[int, datetime]] = {}  # rung -> (last seq, its end time)

    def program_date_time(self, rung: str, seq: int, duration: float, discontinuity: bool,
                          now: datetime) -> datetime:
        start = self._by_seq.get(seq)
        if start is None:
            last = self._end.get(rung)
            if last is not None and last[0] == seq - 1 and not discontinuity:
                start = last[1]
            else:  # it just finished, so it started about one duration ago
                start = now - timedelta(seconds=duration)
            self._by_seq[seq] = start
            while len(self._by_seq) > KEEP:
                self._by_seq.popitem(last=False)
        self._end[rung] = (seq, start + timedelta(seconds=duration))
        return start
