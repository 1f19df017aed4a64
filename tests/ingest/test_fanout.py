"""source_command fan-out: every encoder gets the same bytes; a stuck one is cut loose."""

from __future__ import annotations

import asyncio
import hashlib
import os
import sys
from pathlib import Path

import pytest

from hlsd.ingest.fanout import Fanout

pytestmark = pytest.mark.e2e

# A source that writes 2 MB of TS-sized packets and ends (a finite input).
SOURCE = [sys.executable, "-c",
          "import sys\nfor i in range(10000):\n"
          "    sys.stdout.buffer.write(bytes([0x47]) + i.to_bytes(4, 'big') * 46 + b'...')\n"]


async def read_all(fd: int) -> bytes:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, lambda: os.fdopen(fd, "rb").read())


async def test_finite_source_reaches_every_subscriber_whole() -> None:
    fan = Fanout(SOURCE, live=False)
    fan.expect({"a", "b", "c"})
    fds = [fan.subscribe(n) for n in ("a", "b", "c")]
    readers = [asyncio.create_task(read_all(fd)) for fd in fds]
    await asyncio.wait_for(fan.run(), 30)
    data = await asyncio.wait_for(asyncio.gather(*readers), 30)
    assert len(data[0]) == 10000 * 188
    assert len({hashlib.sha256(d).hexdigest() for d in data}) == 1


async def test_a_stuck_encoder_is_dropped_and_never_stalls_the_others(tmp_path: Path) -> None:
    """1. a live source; subscriber 'slow' never reads, 'fast' reads everything
    2. 'slow' is cut loose once it is more than lag_limit behind (on_lagging called)
    3. 'fast' keeps receiving all the while"""
    lagging: list[str] = []
    live = [sys.executable, "-c",
            "import sys, time\nwhile True:\n"
            "    sys.stdout.buffer.write(b'\\x47' * 188 * 400)\n"
            "    sys.stdout.flush()\n    time.sleep(0.01)\n"]
    fan = Fanout(live, live=True, lag_limit=0.5, on_lagging=lagging.append)
    fan.expect({"fast", "slow"})
    fast_fd = fan.subscribe("fast")
    slow_fd = fan.subscribe("slow")  # never read: its pipe fills, then its buffer ages
    received = 0

    async def drain() -> None:
        nonlocal received
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(fast_fd, "rb"))
        try:
            while chunk := await reader.read(65536):
                received += len(chunk)
        finally:
            transport.close()

    runner = asyncio.create_task(fan.run())
    drainer = asyncio.create_task(drain())
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    while not lagging and loop.time() < deadline:
        await asyncio.sleep(0.05)
    assert lagging == ["slow"]
    before = received
    while received < before + 1_000_000 and loop.time() < deadline:
        await asyncio.sleep(0.05)
    assert received >= before + 1_000_000, "the fast encoder stalled"
    runner.cancel()
    drainer.cancel()
    await asyncio.gather(runner, drainer, return_exceptions=True)
    os.close(slow_fd)
