"""`source_command` (or our stdin shared by several encoders): one reader process whose
bytes are fanned out to every encoder (hlsd.ingest.subscribers), for inputs the ingest
stage does not own (a finite file, stdin)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import structlog

from hlsd.backoff import Backoff
from hlsd.child import Child
from hlsd.ingest.packets import read_packets
from hlsd.ingest.subscribers import Subscribers

log = structlog.get_logger()


class Fanout(Subscribers):
    def __init__(self, argv: list[str], live: bool, lag_limit: float = 5.0,
                 on_lagging: Callable[[str], None] | None = None,
                 inherit_stdin: bool = False) -> None:
        super().__init__(lag_limit, on_lagging)
        self.argv = argv
        self.live = live
        self.inherit_stdin = inherit_stdin

    async def run(self) -> None:
        backoff = Backoff()
        await self.wait_subscribed(10.0)
        try:
            while True:
                started = time.monotonic()
                await self._read_once()
                if not self.live:
                    break
                delay = backoff.next_delay(time.monotonic() - started)
                log.warning("source command ended; restarting", delay=round(delay, 2))
                await asyncio.sleep(delay)
            await self.drain_and_close()
        finally:
            self.drop_all()

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
            pending = await read_packets(source.proc.stdout, self.publish)
        finally:
            code = await source.stop(grace=2.0)
        if pending:
            self.publish(memoryview(pending))
        if code != 0:
            log.warning("source command exited", code=code, stderr_tail="\n".join(source.tail))
