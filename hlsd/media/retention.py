"""When a segment that left a playlist may be deleted (RFC 8216 §6.2.2). Pure: time is passed in.

A client may have loaded the playlist just before the segment left it and then play the
whole playlist from its start, so the segment must stay available for its own duration
plus the duration of the longest playlist that contained it.

`now` is any clock in seconds, the same one on every call. When the state is persisted
across restarts (`to_dict`), it must be wall time (`time.time()`), not a monotonic clock.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Iterable
from typing import Any

from hlsd.media.playlist import Entry


class Retention:
    """The deletion schedule of one destination."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, str]] = []
        # name -> deletion time; the heap may hold stale pairs for a rescheduled name,
        # which `due` skips (cheaper than removing them from the heap).
        self._when: dict[str, float] = {}

    def schedule(self, removed: Iterable[Entry], playlist_duration: float, now: float) -> None:
        """Schedule the deletion of entries that just left a playlist (gap entries, never
        stored, are passed over).

        `playlist_duration` is the longest duration of the playlist while it listed them
        (`Peaks.longest`; `MediaPlaylist.longest_duration` is a safe value), not only that
        of the last playlist that did.
        """
        for entry in removed:
            if entry.gap:  # EXT-X-GAP: its name is no file's, here or anywhere
                continue
            when = now + entry.duration + playlist_duration
            # The same name scheduled twice keeps the later time: deleting late is harmless,
            # deleting early breaks a client.
            if when > self._when.get(entry.name, float("-inf")):
                self._when[entry.name] = when
                heapq.heappush(self._heap, (when, entry.name))

    def cancel(self, name: str) -> None:
        """`name` is needed again (an init segment a new segment uses): keep it."""
        self._when.pop(name, None)  # its heap pair goes stale and `due` skips it

    def due(self, now: float) -> list[str]:
        """Names whose time has come, earliest first; they are forgotten once returned."""
        names: list[str] = []
        while self._heap and self._heap[0][0] <= now:
            when, name = heapq.heappop(self._heap)
            if self._when.get(name) == when:
                del self._when[name]
                names.append(name)
        return names

    def next_due(self) -> float | None:
        """The time of the next deletion, to sleep until then; None when nothing waits."""
        while self._heap and self._when.get(self._heap[0][1]) != self._heap[0][0]:
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None

    @property
    def pending(self) -> int:
        return len(self._when)

    def to_dict(self) -> dict[str, Any]:
        return {"pending": sorted([when, name] for name, when in self._when.items())}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Retention:
        retention = cls()
        try:
            for when, name in data["pending"]:
                retention._when[str(name)] = float(when)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"invalid retention state: {exc}") from exc
        retention._heap = [(when, name) for name, when in retention._when.items()]
        heapq.heapify(retention._heap)
        return retention


class Peaks:
    """The longest duration of any playlist that listed a segment, per rung (§6.2.2).

    The playlist a segment leaves may be shorter than earlier ones that named it: a short
    segment flushed as a stalled encoder is killed, short segments after a restart, a gap
    that empties the playlist. Those earlier playlists' clients need it as long as theirs
    last. Segments leave in sequence order, so a deque of (newest sequence number listed,
    playlist duration), durations decreasing front to back, answers each in O(1)
    amortised instead of a scan of the window per segment.
    """

    def __init__(self) -> None:
        self._peaks: deque[tuple[int, float]] = deque()

    def listed(self, newest: int, duration: float) -> None:
        """A playlist ending with sequence number `newest` lasts `duration` (sum of EXTINF):
        call after every change, before `longest` is asked about what the next removes."""
        while self._peaks and self._peaks[-1][1] <= duration:
            self._peaks.pop()  # shorter and older: never the longest for anything still listed
        self._peaks.append((newest, duration))

    def longest(self, seq: int) -> float:
        """The longest playlist that listed `seq`, which just left; asked in sequence order."""
        # Playlists ending before `seq` never listed it, nor anything that leaves after it.
        while self._peaks and self._peaks[0][0] < seq:
            self._peaks.popleft()
        return self._peaks[0][1] if self._peaks else 0.0
