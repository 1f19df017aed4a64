"""The encoders' stdin: one OS pipe per encoder, fed from a bounded buffer.

Each pipe is written only when it is writable, so a slow encoder never stalls the
reader or the other encoders. One that falls more than `lag_limit` seconds behind is cut
loose (its supervisor restarts it, and it subscribes anew).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections import deque
from collections.abc import Callable

import structlog

log = structlog.get_logger()

MAX_BUFFER = 64 * 1024 * 1024  # bytes per encoder, whatever the lag limit says


class _Subscriber:
    def __init__(self, name: str, fd: int) -> None:
        self.name = name
        self.fd = fd
        self.chunks: deque[tuple[float, memoryview]] = deque()
        self.size = 0
        self.writing = False
        self.fed = False  # has been given media (an unfed encoder is still waiting to start)
        # Nothing before a keyframe: a decoder fed mid-GOP may not find the video's size
        # within its probe, and the encoder then leaves the video out.
        self.started = False


class Subscribers:
    """Encoders subscribed to one stream of MPEG-TS bytes."""

    def __init__(self, lag_limit: float = 5.0,
                 on_lagging: Callable[[str], None] | None = None) -> None:
        self.lag_limit = lag_limit
        self._on_lagging = on_lagging
        self._expected: set[str] = set()
        self._all_subscribed = asyncio.Event()
        self._subs: dict[str, _Subscriber] = {}
        self._closing = False

    def set_on_lagging(self, on_lagging: Callable[[str], None] | None) -> None:
        self._on_lagging = on_lagging

    def expect(self, names: set[str]) -> None:
        """The first source run waits for these encoders, so none misses the beginning."""
        self._expected = set(names)
        if self._expected <= set(self._subs):
            self._all_subscribed.set()

    def subscribe(self, name: str) -> int:
        """A fresh pipe for encoder `name`; returns its read end (the caller's to close)."""
        self.drop(name)
        read_fd, write_fd = os.pipe()
        os.set_blocking(write_fd, False)
        self._subs[name] = _Subscriber(name, write_fd)
        if self._expected <= set(self._subs):
            self._all_subscribed.set()
        if self._closing:  # finite input already over: the encoder sees EOF at once
            self.drop(name)
        return read_fd

    def drop(self, name: str) -> None:
        """Close `name`'s pipe: its encoder reads to the end of what it got, then EOF."""
        sub = self._subs.pop(name, None)
        if sub is None:
            return
        if sub.writing:
            asyncio.get_running_loop().remove_writer(sub.fd)
        with contextlib.suppress(OSError):
            os.close(sub.fd)

    def drop_fed(self) -> list[str]:
        """End every encoder that was given media (a new source needs a new encoder run);
        the ones still waiting for their first bytes stay. Returns the dropped names."""
        fed = [s.name for s in self._subs.values() if s.fed]
        for name in fed:
            self.drop(name)
        return fed

    def unfed(self) -> list[str]:
        """The encoders still waiting for their first bytes."""
        return [s.name for s in self._subs.values() if not s.fed]

    def drop_all(self) -> None:
        for name in list(self._subs):
            self.drop(name)

    def publish(self, chunk: memoryview, only: str | None = None, key: bool = True) -> None:
        """`chunk` (whole TS packets) to every subscriber, or to `only`; a subscriber
        starts with a `key` chunk (a keyframe begins in it)."""
        now = time.monotonic()
        for sub in list(self._subs.values()):
            if only is not None and sub.name != only:
                continue
            if not (sub.started or key):
                continue
            sub.started = True
            if sub.chunks and (now - sub.chunks[0][0] > self.lag_limit
                               or sub.size > MAX_BUFFER):
                log.warning("encoder fell behind its source; restarting it", rung=sub.name,
                            behind_seconds=round(now - sub.chunks[0][0], 1))
                self.drop(sub.name)
                if self._on_lagging is not None:
                    self._on_lagging(sub.name)
                continue
            sub.chunks.append((now, chunk))
            sub.size += len(chunk)
            sub.fed = True
            self._flush(sub)

    def _flush(self, sub: _Subscriber) -> None:
        while sub.chunks:
            stamp, chunk = sub.chunks[0]
            try:
                written = os.write(sub.fd, chunk)
            except BlockingIOError:
                break
            except OSError:  # the encoder is gone; its supervisor subscribes anew
                self.drop(sub.name)
                return
            sub.size -= written
            if written < len(chunk):
                sub.chunks[0] = (stamp, chunk[written:])
            else:
                sub.chunks.popleft()
        loop = asyncio.get_running_loop()
        if sub.chunks and not sub.writing:
            loop.add_writer(sub.fd, self._flush, sub)
            sub.writing = True
        elif not sub.chunks and sub.writing:
            loop.remove_writer(sub.fd)
            sub.writing = False

    async def wait_subscribed(self, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._all_subscribed.wait()

    async def drain_and_close(self) -> None:
        """Finite input: let every encoder read what is left, then give it EOF."""
        self._closing = True
        deadline = time.monotonic() + 60
        while any(s.chunks for s in self._subs.values()) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        self.drop_all()
