"""The origin's listening socket when it serves LL-HLS: a connection's plain GETs of live
playlists, parts and segments are answered by the fast path (hlsd.serve.fastpath) with
responses rendered once for everyone; the first request it does not take, and everything
after it on that connection, goes to aiohttp, which serves the rest of the origin (the
player, metrics, files, HEAD, ranges, conditional requests, errors).

Why: when a part arrives, every player of its rung wakes at once; aiohttp's per-request
machinery made a thousand players' answers take half a second of one core, the fast path
a small fraction of that (bench/origin.py).

One request at a time per connection (pipelined ones wait in the buffer, answered in
order); a client that does not read its answers is not read from either; a connection
idle for KEEPALIVE seconds, or one that has sent half a request for as long, is closed."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import cast

from hlsd.serve import wire
from hlsd.serve.fastpath import FastLive

KEEPALIVE = 75.0  # seconds, as aiohttp's keepalive_timeout
SWEEP = 5.0  # seconds between looks for idle connections
READ_LIMIT = 64 * 1024  # buffered request bytes beyond which reading pauses
BACKLOG = 2048  # players (re)join together: a short backlog costs them a SYN retry


class Front:
    """Accepts the origin's connections; `handoff()` builds aiohttp's protocol."""

    def __init__(self, live: FastLive, handoff: Callable[[], asyncio.Protocol]) -> None:
        self.live = live
        self.handoff = handoff
        self.connections: set[FrontConnection] = set()
        self._server: asyncio.Server | None = None
        self._sweeper: asyncio.TimerHandle | None = None

    async def start(self, host: str, port: int) -> int:
        """Listen; returns the port (0 asks for any free one)."""
        loop = asyncio.get_running_loop()
        try:
            self._server = await loop.create_server(
                lambda: FrontConnection(self), host or None, port, backlog=BACKLOG,
                reuse_address=True)
        except BaseException:  # e.g. the port is taken: nothing may stay subscribed
            self.live.close()
            raise
        self._sweeper = loop.call_later(SWEEP, self._sweep)
        return int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
        self.live.close()
        if self._server is not None:
            self._server.close()
            for connection in list(self.connections):
                connection.close()
            await self._server.wait_closed()
            self._server = None

    def _sweep(self) -> None:
        loop = asyncio.get_running_loop()
        quiet_since = loop.time() - KEEPALIVE
        for connection in [c for c in self.connections if c.idle_since(quiet_since)]:
            connection.close()
        self._sweeper = loop.call_later(SWEEP, self._sweep)


class FrontConnection(asyncio.Protocol):
    def __init__(self, front: Front) -> None:
        self._front = front
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._busy = False  # a request is being answered (or waits for its answer)
        self._processing = False
        self._write_paused = False
        self._read_paused = False
        self._closed = False
        self._last = 0.0

    # -- asyncio.Protocol ---------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's: no subclass
        self._last = asyncio.get_running_loop().time()
        self._front.connections.add(self)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        self._last = asyncio.get_running_loop().time()
        if len(self._buffer) > READ_LIMIT and self._transport is not None:
            self._transport.pause_reading()
            self._read_paused = True
        self._process()

    def eof_received(self) -> bool:
        return False  # close: nothing is answered to a half-closed connection

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self._front.connections.discard(self)

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        self._process()

    # -- fastpath.Reply -------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        return self._closed

    def send(self, data: bytes) -> None:
        if self._closed or self._transport is None:
            return
        self._transport.write(data)
        self._busy = False
        self._last = asyncio.get_running_loop().time()
        self._process()

    # -- the rest -------------------------------------------------------------------------
    def idle_since(self, moment: float) -> bool:
        return not self._busy and self._last < moment

    def close(self) -> None:
        if self._transport is not None and not self._closed:
            self._transport.close()

    def _process(self) -> None:
        if self._processing:
            return  # an answer sent from within answer(): the loop below goes on
        self._processing = True
        try:
            while (self._buffer and not self._busy and not self._write_paused
                   and not self._closed):
                request = wire.parse(self._buffer)
                if request is None:
                    break
                if isinstance(request, wire.Handoff):
                    self._handoff()
                    return
                self._busy = True
                if not self._front.live.answer(request, self):
                    self._busy = False
                    self._handoff()  # this request too: it is still in the buffer
                    return
                del self._buffer[:request.size]
            if self._read_paused and len(self._buffer) <= READ_LIMIT and self._transport:
                self._read_paused = False
                self._transport.resume_reading()
        finally:
            self._processing = False

    def _handoff(self) -> None:
        """From now on aiohttp serves this connection, starting with what is buffered."""
        transport = self._transport
        if transport is None or self._closed:
            return
        self._front.connections.discard(self)
        self._closed = True  # for the fast path: nothing more is sent from here
        protocol = self._front.handoff()
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        if self._read_paused:
            transport.resume_reading()
        data, self._buffer = bytes(self._buffer), bytearray()
        if data:
            protocol.data_received(data)
