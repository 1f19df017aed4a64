"""Per-rung upload lanes: bounded, oldest dropped (and counted) when a destination lags."""

from __future__ import annotations

import asyncio
from collections import deque

from hlsd.publish.segment import SegmentFile


class Lane:
    """Segments of one rung waiting for one destination, in order."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.items: deque[SegmentFile] = deque()
        self.finishing = False  # the rung's input ended: close the playlist once drained
        self.in_flight: SegmentFile | None = None  # the head, while it is being uploaded
        self._wake = asyncio.Event()

    def push(self, seg: SegmentFile) -> list[SegmentFile]:
        """Queue a segment; returns those that fell out of the window unsent.

        The segment being uploaded is never the one dropped: a destination a little
        slower than real time would otherwise lose every upload it starts, and never
        publish again. The next oldest goes instead."""
        self.items.append(seg)
        dropped = []
        while len(self.items) > self.capacity:
            if self.items[0] is self.in_flight and len(self.items) > 1:
                dropped.append(self.items[1])
                del self.items[1]
            else:
                dropped.append(self.items.popleft())
        self._wake.set()
        return dropped

    def wake(self) -> None:
        self._wake.set()

    async def wait(self) -> None:
        await self._wake.wait()
        self._wake.clear()

    def __contains__(self, seg: SegmentFile) -> bool:
        return any(s is seg for s in self.items)
