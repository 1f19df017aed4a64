"""Simulated LL-HLS players for bench/origin.py: one client process runs many, each on
its own keep-alive HTTP/1.1 connection, doing at the live edge what an LL-HLS client does:
a blocking playlist reload for the next part (`_HLS_msn`/`_HLS_part`), then a GET of that
part, and again for the next one (`fetch="after-playlist"`: hls.js). Or, with
`fetch="with-hint"`, what RFC 8216bis 6.2.5.1 asks of a client and Apple's players do: the
part named by the playlist's EXT-X-PRELOAD-HINT is asked for together with the blocking
reload for it (here pipelined on the connection; HTTP/2 players multiplex the two), so
its bytes come the moment it is written, without a round trip after the playlist.

Lean on purpose: asyncio protocols and callbacks, no HTTP client library, so that the
load generator (on the same machine as the origin) takes as little of the CPU as it can.
Requests carry the header set Chromium sends with hls.js' requests, so the origin parses
what it would parse for a browser."""

from __future__ import annotations

import asyncio
import gzip
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import cast
from urllib.parse import urlsplit

CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*(\d+)", re.IGNORECASE)
GZIPPED = re.compile(rb"\r\ncontent-encoding:[ \t]*gzip", re.IGNORECASE)
BROWSER_HEADERS = (
    "Connection: keep-alive\r\n"
    'sec-ch-ua-platform: "Linux"\r\n'
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/156.0.0.0 Safari/537.36\r\n"
    'sec-ch-ua: "Chromium";v="156", "Not:A-Brand";v="24"\r\n'
    "sec-ch-ua-mobile: ?0\r\nAccept: */*\r\nSec-Fetch-Site: same-origin\r\n"
    "Sec-Fetch-Mode: cors\r\nSec-Fetch-Dest: empty\r\n"
    "Accept-Encoding: gzip, deflate, br, zstd\r\nAccept-Language: en-US,en;q=0.9\r\n")
HINT = "#EXT-X-PRELOAD-HINT:"
BACKOFF = 0.1  # seconds before a player that lost its connection joins again


@dataclass
class Stats:
    deliveries: list[tuple[str, float]] = field(default_factory=list)
    requests: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    rejoins: int = 0


def last_part(text: str, tag: str = "#EXT-X-PART:") -> tuple[str, int, int, int]:
    """(stem, MSN, index, digits of the MSN) of the part the last `tag` line names: the
    newest EXT-X-PART, or with "#EXT-X-PRELOAD-HINT:" the hinted one."""
    at = text.rindex(tag)
    uri = text[at:].split('URI="', 1)[1].split('"', 1)[0]
    stem, rest = uri.rsplit("-", 1)
    seq, index, _ = rest.split(".")
    return stem, int(seq), int(index), len(seq)


def lists_part(text: str, name: str) -> bool:
    at = text.find(f'URI="{name}"')
    return at >= 0 and text.startswith("#EXT-X-PART:", text.rfind("\n", 0, at) + 1)


class Player(asyncio.Protocol):
    """One viewer: a state machine driven by the answers on its connection."""

    def __init__(self, base: str, rung: str, until: float, stats: Stats,
                 fetch: str = "after-playlist") -> None:
        url = urlsplit(base)
        self._host, self._port = url.hostname or "127.0.0.1", url.port or 80
        self._prefix = url.path
        self._head = f"Host: {url.netloc}\r\n{BROWSER_HEADERS}Referer: {base}\r\n\r\n"
        self._playlist = f"{self._prefix}live_{rung}.m3u8"
        self._until, self._stats = until, stats
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._need: int | None = None  # body bytes of the answer being read
        self._gzipped = False
        self._status = 0
        self._state = "join"
        self._at: tuple[str, int, int, int] | None = None  # stem, msn, next part, digits
        self._name = ""
        self._hinted = fetch == "with-hint"

    def start(self, delay: float) -> None:
        asyncio.get_running_loop().call_later(delay, self._connect)

    def _connect(self) -> None:
        if time.time() >= self._until:
            return
        loop = asyncio.get_running_loop()
        task = loop.create_task(loop.create_connection(lambda: self, self._host, self._port))
        task.add_done_callback(self._connected)

    def _connected(self, task: asyncio.Task[object]) -> None:
        if task.cancelled() or task.exception() is not None:
            self._stats.errors[type(task.exception()).__name__] += 1
            self._rejoin()
            return
        self._join()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's: no subclass
        self._buffer, self._need = bytearray(), None

    def connection_lost(self, exc: Exception | None) -> None:
        if self._transport is not None and time.time() < self._until:
            self._stats.errors["connection lost"] += 1
            self._transport = None
            self._rejoin()
        self._transport = None

    def _rejoin(self) -> None:
        self._stats.rejoins += 1
        self._at, self._state = None, "join"
        if self._transport is not None:
            transport, self._transport = self._transport, None
            transport.close()
        asyncio.get_running_loop().call_later(BACKOFF, self._connect)

    def _get(self, target: str) -> None:
        assert self._transport is not None
        self._transport.write(f"GET {target} HTTP/1.1\r\n{self._head}".encode())

    def _join(self) -> None:
        self._state = "join"
        self._get(self._playlist)

    def _next(self) -> None:
        if time.time() >= self._until:
            if self._transport is not None:
                transport, self._transport = self._transport, None
                transport.close()
            return
        assert self._at is not None
        stem, msn, index, width = self._at
        self._state = "playlist"
        self._get(f"{self._playlist}?_HLS_msn={msn}&_HLS_part={index}")
        if self._hinted:  # the hinted part's request right behind it
            self._name = f"{stem}-{msn:0{width}d}.{index}.m4s"
            self._get(self._prefix + self._name)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while True:
            if self._need is None:
                end = self._buffer.find(b"\r\n\r\n")
                if end < 0:
                    return
                head = bytes(self._buffer[:end])
                length = CONTENT_LENGTH.search(head)
                if length is None:  # every answer of the origin has a length
                    self._stats.errors["no content-length"] += 1
                    self._rejoin()
                    return
                self._status, self._need = int(head[9:12]), int(length[1])
                self._gzipped = GZIPPED.search(head) is not None
                del self._buffer[:end + 4]
            if len(self._buffer) < self._need:
                return
            body = bytes(self._buffer[:self._need])
            del self._buffer[:self._need]
            self._need = None
            self._answer(self._status, gzip.decompress(body) if self._gzipped else body)

    def _answer(self, status: int, body: bytes) -> None:
        received = time.time()
        self._stats.requests += 1
        if status != 200:
            self._stats.errors[f"{self._state} {status}"] += 1
            self._rejoin()
            return
        try:
            if self._state == "join" and self._hinted:  # at the live edge: the hinted part
                self._at = last_part(body.decode(), HINT)
            elif self._state == "join":  # at the live edge: the part after the newest
                stem, msn, index, width = last_part(body.decode())
                self._at = (stem, msn, index + 1, width)
            elif self._state == "playlist" and self._hinted:  # the part's answer is next
                self._at, self._state = last_part(body.decode(), HINT), "part"
                return
            elif self._state == "playlist":
                assert self._at is not None
                stem, msn, index, width = self._at
                text = body.decode()
                name = f"{stem}-{msn:0{width}d}.{index}.m4s"
                if not lists_part(text, name):  # that segment ended: the next one's first
                    msn, index = msn + 1, 0
                    name = f"{stem}-{msn:0{width}d}.{index}.m4s"
                    if not lists_part(text, name):
                        self._rejoin()
                        return
                self._at, self._name, self._state = (stem, msn, index, width), name, "part"
                self._get(self._prefix + name)
                return
            else:
                self._stats.deliveries.append((self._name, received))
                if not self._hinted:  # else the playlist's hint says which is next
                    stem, msn, index, width = self._at or ("", 0, 0, 0)
                    self._at = (stem, msn, index + 1, width)
        except (ValueError, IndexError, UnicodeDecodeError) as exc:
            self._stats.errors[type(exc).__name__] += 1
            self._rejoin()
            return
        self._next()


async def run_players(base: str, rungs: list[str], count: int, first: int, until: float,
                      fetch: str = "after-playlist") -> dict[str, object]:
    """`count` players, the i-th on rung (first + i) mod len(rungs), joining within a
    second; they stop at `until` (wall clock); `fetch`: see the module's doc."""
    stats = Stats()
    started = time.process_time()
    for i in range(count):
        Player(base, rungs[(first + i) % len(rungs)], until, stats, fetch).start(
            (first + i) % 97 / 97)
    await asyncio.sleep(max(0.0, until - time.time()) + 1.0)  # the run's fixed end
    return {"deliveries": stats.deliveries, "requests": stats.requests,
            "errors": dict(stats.errors), "rejoins": stats.rejoins,
            "cpu": time.process_time() - started}
