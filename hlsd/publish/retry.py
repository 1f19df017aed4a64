"""Retrying a destination's operations: one shared, jittered backoff per destination."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import structlog

from hlsd.backoff import Backoff
from hlsd.publish.transfer.base import TransferError

log = structlog.get_logger()

# How often a caller waiting for another's probe of a dead destination looks up to
# check whether its own work (a segment that may have left the window) is still wanted.
WAITER_RECHECK = 0.5


class Retrier:
    """Runs one destination's operations under a concurrency limit, retrying forever (or
    until `abort()` says the work is no longer wanted).

    The backoff belongs to the destination, not to each call: while it is down, one
    caller at a time probes it, when an exponentially growing, jittered delay has passed,
    and every other caller waits for that probe's verdict. Per-call backoff would restart
    at the first delay for every new segment and have every lane hammer a dead server.
    The probe time is kept here rather than slept by one caller, because a caller whose
    segment leaves the window stops waiting, and the next one must not start over.
    """

    def __init__(self, destination: str, concurrency: int,
                 on_failure: Callable[[], None] | None = None, *,
                 first: float = 0.25, cap: float = 10.0) -> None:
        self.destination = destination
        self._sem = asyncio.Semaphore(concurrency)
        self._on_failure = on_failure
        self._backoff = Backoff(first=first, cap=cap, healthy_after=float("inf"))
        self._recovered: asyncio.Event | None = None  # not None while the destination is down
        self._probe_at = 0.0  # loop time of the next probe while down
        self._probing = False
        self.down_since: float | None = None
        self.log = log.bind(destination=destination)

    @property
    def down(self) -> bool:
        return self._recovered is not None

    async def __call__(self, op: Callable[[], Awaitable[None]], what: str,
                       abort: Callable[[], bool] | None = None) -> bool:
        loop = asyncio.get_running_loop()
        while True:
            if abort is not None and abort():
                return False
            recovered = self._recovered
            if recovered is None:
                if await self._attempt(op, what, probe=False):
                    return True
                continue
            wait = self._probe_at - loop.time()
            if self._probing or wait > 0:
                # Not this caller's turn: wait for the probe, looking up now and then to
                # see whether this work is still wanted.
                await _wait(recovered, min(wait, WAITER_RECHECK) if wait > 0 else WAITER_RECHECK)
                continue
            self._probing = True
            try:
                if await self._attempt(op, what, probe=True):
                    return True
            finally:
                self._probing = False

    async def _attempt(self, op: Callable[[], Awaitable[None]], what: str, probe: bool) -> bool:
        loop = asyncio.get_running_loop()
        try:
            async with self._sem:
                await op()
        except TransferError as exc:
            error = str(exc)
        except Exception as exc:  # a backend bug must not stop the stream elsewhere
            self.log.exception("unexpected transfer error", what=what)
            error = repr(exc)
        else:
            if self._recovered is not None:
                self.log.info("destination recovered",
                              down_for=round(loop.time() - (self.down_since or loop.time()), 1))
                self._recovered.set()
                self._recovered, self.down_since = None, None
                self._backoff.reset()
            return True
        if self._on_failure is not None:
            self._on_failure()
        if self._recovered is None:
            self._recovered = asyncio.Event()
            self.down_since = loop.time()
            self._probe_at = loop.time() + self._backoff.next_delay()
            self.log.warning("destination failing; retrying", what=what, error=error)
        else:
            if probe:  # calls already in flight when it went down do not count
                self._probe_at = loop.time() + self._backoff.next_delay()
            self.log.debug("retry failed", what=what, error=error)
        return False


async def _wait(event: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await event.wait()
