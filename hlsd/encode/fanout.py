"""`source_command`: one reader process whose bytes are fanned out to every encoder.

Each encoder gets its own OS pipe fed from a bounded buffer, written only when the pipe
is writable, so a slow encoder never stalls the reader or the other encoders. One that
falls more than `lag_limit` seconds behind is cut loose (and restarted by its supervisor).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections import deque
from collections.abc import Callable

import structlog

from hlsd.backoff import Backoff
from hlsd.encode.process import Child

log = structlog.get_logger()

TS_PACKET = 188
READ_SIZE = 64 * 1024
MAX_BUFFER = 64 * 1024 * 1024  # bytes per encoder, whatever the lag limit says


class _Subscriber:
    def __init__(self, name: str, fd: int) -> None:
        self.name = name
        self.fd = fd
        self.chunks: deque[tuple[float, memoryview]] = deque()
        self.size = 0
        self.writing = False


class Fanout:
    def __init__(self, argv: list[str], live: bool, lag_limit: float = 5.0,
                 on_lagging: Callable[[str], None] | None = None,
                 inherit_stdin: bool = False) -> None:
        self.argv = argv
        self.live = live
        self.inherit_stdin = inherit_stdin
        self._expected: set[str] = set()
        self._all_subscribed = asyncio.Event()
        self.lag_limit = lag_limit
        self._on_lagging = on_lagging
        self._subs: dict[str, _Subscriber] = {}
        self._closing = False

    def expect(self, names: set[str]) -> None:
        """The first source run waits for these encoders, so none misses the beginning."""
        self._expected = set(names)
        if self._expected <= set(self._subs):
            self._all_subscribed.set()

    def subscribe(self, name: str) -> int:
        """A fresh pipe for encoder `name`; returns its read end (the caller's to close)."""
        self._drop(name)
        read_fd, write_fd = os.pipe()
        os.set_blocking(write_fd, False)
        self._subs[name] = _Subscriber(name, write_fd)
        if self._expected <= set(self._subs):
            self._all_subscribed.set()
        if self._closing:  # finite input already over: the encoder sees EOF at once
            self._drop(name)
        return read_fd

    def _drop(self, name: str) -> None:
        sub = self._subs.pop(name, None)
        if sub is None:
            return
        if sub.writing:
            asyncio.get_running_loop().remove_writer(sub.fd)
        with contextlib.suppress(OSError):
            os.close(sub.fd)

    async def run(self) -> None:
        backoff = Backoff()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(10.0):
                await self._all_subscribed.wait()
        try:
            while True:
                started = time.monotonic()
                await self._read_once()
                if not self.live:
                    break
                delay = backoff.next_delay(time.monotonic() - started)
                log.warning("source command ended; restarting", delay=round(delay, 2))
                await asyncio.sleep(delay)
            await self._drain_and_close()
        finally:
            for name in list(self._subs):
                self._drop(name)

    async def _read_once(self) -> None:
        async with asyncio.TaskGroup() as tg:
            try:
                source = await self._spawn(tg)
            except OSError as exc:
                log.error("cannot start source command", error=str(exc))
                return
            await self._pump(source)

    async def _spawn(self, tg: asyncio.TaskGroup) -> Child:
        return await Child.spawn(
            self.argv, "source", tg, stdout=asyncio.subprocess.PIPE,
            stdin=None if self.inherit_stdin else asyncio.subprocess.DEVNULL,
            log_stderr=lambda line: log.debug("source", line=line))

    async def _pump(self, source: Child) -> None:
        log.info("source started", pid=source.pid)
        assert source.proc.stdout is not None
        pending = b""
        try:
            while True:
                data = await source.proc.stdout.read(READ_SIZE)
                if not data:
                    break
                data = pending + data
                # Whole TS packets only, so an encoder joining later starts on a packet.
                cut = len(data) - len(data) % TS_PACKET
                pending = data[cut:]
                if cut:
                    self._publish(memoryview(data[:cut]))
        finally:
            code = await source.stop(grace=2.0)
        if pending:
            self._publish(memoryview(pending))
        if code != 0:
            log.warning("source command exited", code=code, stderr_tail="\n".join(source.tail))

    def _publish(self, chunk: memoryview) -> None:
        now = time.monotonic()
        for sub in list(self._subs.values()):
            if sub.chunks and (now - sub.chunks[0][0] > self.lag_limit
                               or sub.size > MAX_BUFFER):
                log.warning("encoder fell behind its source; restarting it", rung=sub.name,
                            behind_seconds=round(now - sub.chunks[0][0], 1))
                self._drop(sub.name)
                if self._on_lagging is not None:
                    self._on_lagging(sub.name)
                continue
            sub.chunks.append((now, chunk))
            sub.size += len(chunk)
            self._flush(sub)

    def _flush(self, sub: _Subscriber) -> None:
        while sub.chunks:
            stamp, chunk = sub.chunks[0]
            try:
                written = os.write(sub.fd, chunk)
            except BlockingIOError:
                break
            except OSError:  # the encoder is gone; its supervisor subscribes anew
                self._drop(sub.name)
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

    async def _drain_and_close(self) -> None:
        """Finite input: let every encoder read what is left, then give it EOF."""
        self._closing = True
        deadline = time.monotonic() + 60
        while any(s.chunks for s in self._subs.values()) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        for name in list(self._subs):
            self._drop(name)
