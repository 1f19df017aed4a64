"""Reading a child's MPEG-TS output in whole 188-byte packets, so that whoever joins the
stream later (an encoder, a switch) starts on a packet boundary."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

TS_PACKET = 188
READ_SIZE = 64 * 1024


async def read_packets(stream: asyncio.StreamReader,
                       deliver: Callable[[memoryview], None]) -> bytes:
    """Whole packets to `deliver` as they come, until EOF; returns the partial packet
    left at the end (b"" for a stream that ended on a boundary)."""
    pending = b""
    while data := await stream.read(READ_SIZE):
        data = pending + data
        cut = len(data) - len(data) % TS_PACKET
        pending = data[cut:]
        if cut:
            deliver(memoryview(data[:cut]))
    return pending
