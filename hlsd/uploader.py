"""Per-rung upload lanes: bounded, oldest dropped (and counted) when a destination lags."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable

import structlog

from hlsd.backoff import Backoff
from hlsd.segment import SegmentFile
from hlsd.transfer.base import TransferError

log = structlog.get_logger()


class Lane:
    """Segments of one rung waiting for one destination, in order."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.items: deque[SegmentFile] = deque()
        self.finishing = False  # the rung's input ended: close the playlist once drained
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


class Retrier:
    """Runs destination operations under a concurrency limit, retrying with backoff forever
    (or until `abort()` says the work is no longer wanted)."""

    def __init__(self, destination: str, concurrency: int,
                 on_failure: Callable[[], None] | None = None) -> None:
        self.destination = destination
        self._sem = asyncio.Semaphore(concurrency)
        self._on_failure = on_failure
        self.down_since: float | None = None
        self.log = log.bind(destination=destination)

    async def __call__(self, op: Callable[[], Awaitable[None]], what: str,
                       abort: Callable[[], bool] | None = None) -> bool:
        backoff = Backoff(first=0.25, cap=10.0, healthy_after=float("inf"))
        loop = asyncio.get_running_loop()
        while True:
            if abort is not None and abort():
                return False
            try:
                async with self._sem:
                    await op()
                if self.down_since is not None:
                    self.log.info("destination recovered",
                                  down_for=round(loop.time() - self.down_since, 1))
                    self.down_since = None
                return True
            except TransferError as exc:
                error = str(exc)
            except Exception as exc:  # a backend bug must not stop the stream elsewhere
                self.log.exception("unexpected transfer error", what=what)
                error = repr(exc)
            if self._on_failure is not None:
                self._on_failure()
            if self.down_since is None:
                self.down_since = loop.time()
                self.log.warning("destination failing; retrying", what=what, error=error)
            else:
                self.log.debug("retry failed", what=what, error=error)
            await asyncio.sleep(backoff.next_delay())
