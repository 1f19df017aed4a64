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
        self.uploading: SegmentFile | None = None  # the head, while its worker stores it
        self._wake = asyncio.Event()

    def push(self, seg: SegmentFile) -> list[SegmentFile]:
        """Queue a segment; returns those that fell out of the window unsent."""
        self.items.append(seg)
        dropped = []
        while len(self.items) > self.capacity:
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

    def abandoned(self, seg: SegmentFile) -> bool:
        """Its upload is no longer wanted: it left the window, or its file vanished."""
        return seg not in self or not seg.path.exists()
