"""The LL-HLS origin's socket (hlsd.serve.front): plain GETs of the live edge answered by
the fast path, everything else by aiohttp on the same connection — over real TCP, bytes
as a client sends them. Which of the two answered shows in aiohttp's `Server` header,
which the fast path does not send."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from hlsd.config import HttpSettings
from hlsd.media.lowlatency import Part
from hlsd.serve import fastpath, front
from hlsd.serve.http import HttpOrigin
from hlsd.serve.live import LiveEdge
from tests.daemon_util import until
from tests.fixtures.status import StaticStatus

MASTER = b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1000\nlive_hi.m3u8\n"


LL_STATUS = StaticStatus({"master": "live.m3u8", "low_latency": True, "part_target": 0.5})


@dataclass
class Served:
    http: HttpOrigin
    edge: LiveEdge

    @property
    def front(self) -> front.Front:
        assert self.http._front is not None  # LL-HLS: the front owns the socket
        return self.http._front

    async def parked(self, count: int) -> None:
        """Until the fast path holds `count` requests: read, parsed, and waiting for what
        they ask for (the server's own state, not a guess at how long reading takes)."""
        await until(lambda: self.front.live.parked == count, timeout=5)

    def add_part(self, seq: int, index: int, data: bytes | None = None) -> str:
        name = f"live_hi-{seq:05d}.{index}.m4s"
        self.edge.part("hi", Part(seq, index, name, 0.5, index == 0),
                       data or name.encode(), last=False, discontinuity=False,
                       map_name=None)
        return name


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    (tmp_path / "live.m3u8").write_bytes(MASTER)
    (tmp_path / "old.m4s").write_bytes(b"from the folder")
    edge = LiveEdge(1, 6, 0.5, lambda rung: f"live_{rung}.m3u8")  # blocking limit: 3 s
    http = HttpOrigin(HttpSettings(listen="127.0.0.1", port=0), tmp_path, LL_STATUS, None,
                      edge)
    await http.start()
    try:
        yield Served(http, edge)
    finally:
        await http.stop()


class Client:
    """One keep-alive connection; reads answers framed by Content-Length."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, served: Served) -> Client:
        return cls(*await asyncio.open_connection("127.0.0.1", served.http.port))

    def send(self, *targets: str, method: str = "GET", headers: str = "") -> None:
        for target in targets:
            self.writer.write(f"{method} {target} HTTP/1.1\r\nHost: x\r\n{headers}\r\n"
                              .encode())

    async def answer(self, body: bool = True) -> tuple[int, dict[str, str], bytes]:
        async with asyncio.timeout(10):
            head = (await self.reader.readuntil(b"\r\n\r\n")).decode()
            lines = head.split("\r\n")
            fields = dict(line.split(": ", 1) for line in lines[1:] if line)
            length = int(fields.get("Content-Length", "0")) if body else 0
            return int(lines[0].split()[1]), fields, await self.reader.readexactly(length)

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


def fast(headers: dict[str, str]) -> bool:
    return "Server" not in headers


async def test_blocking_reload_answered_by_the_fast_path_when_the_part_arrives(
        served: Served) -> None:
    served.add_part(0, 0)
    client = await Client.open(served)
    client.send("/live_hi.m3u8?_HLS_msn=0&_HLS_part=1")
    waiting = asyncio.create_task(client.answer())
    await served.parked(1)
    assert not waiting.done()  # held until the part exists
    name = served.add_part(0, 1)
    status, headers, body = await waiting
    assert status == 200 and fast(headers) and f'URI="{name}"'.encode() in body
    assert headers["Cache-Control"] == "max-age=6" and headers["Vary"] == "Accept-Encoding"
    client.send("/" + name)
    status, headers, body = await client.answer()
    assert (status, body) == (200, name.encode()) and fast(headers)
    assert headers["Cache-Control"] == "max-age=31536000, immutable"
    await client.close()


async def test_pipelined_requests_are_answered_in_order(served: Served) -> None:
    """1. two requests in one write: a blocking reload for a part not there yet, then a
       part that is
    2. the first is parked; the second, ready, waits behind it unanswered
    3. the part arrives: the playlist (listing it) comes first, then the part"""
    served.add_part(0, 0)
    client = await Client.open(served)
    client.send("/live_hi.m3u8?_HLS_msn=0&_HLS_part=1", "/live_hi-00000.0.m4s")
    answers = asyncio.create_task(client.answer())
    await served.parked(1)
    assert not answers.done()  # not even the ready part: it comes after the first answer
    name = served.add_part(0, 1)
    (first, _, text), (second, _, data) = await answers, await client.answer()
    assert first == second == 200
    assert text.startswith(b"#EXTM3U") and f'URI="{name}"'.encode() in text
    assert data == b"live_hi-00000.0.m4s"
    await client.close()


async def test_hinted_part_held_until_written_and_gzip_playlists(served: Served) -> None:
    served.add_part(3, 0)
    client = await Client.open(served)
    client.send("/live_hi-00003.1.m4s")  # the preload hint
    waiting = asyncio.create_task(client.answer())
    await served.parked(1)
    assert not waiting.done()
    served.add_part(3, 1, b"part bytes")
    assert (await waiting)[2] == b"part bytes"
    client.send("/live_hi.m3u8", headers="Accept-Encoding: gzip\r\n")
    status, headers, body = await client.answer()
    assert status == 200 and headers["Content-Encoding"] == "gzip" and fast(headers)
    assert gzip.decompress(body) == served.edge.playlist("hi")
    await client.close()


async def test_the_rest_goes_to_aiohttp_on_the_same_connection(served: Served) -> None:
    served.add_part(0, 0)
    client = await Client.open(served)
    client.send("/live.m3u8")  # the master, from the served folder: still the fast path
    status, headers, body = await client.answer()
    assert (status, body) == (200, MASTER) and fast(headers) and "ETag" in headers
    client.send("/live.m3u8", headers=f"If-None-Match: {headers['ETag']}\r\n")
    status, headers, _ = await client.answer()
    assert status == 304 and not fast(headers)  # aiohttp's from now on
    client.send("/live_hi-00000.0.m4s")
    status, headers, body = await client.answer()
    assert (status, body) == (200, b"live_hi-00000.0.m4s") and not fast(headers)
    await client.close()


@pytest.mark.parametrize(("target", "method", "headers", "status"), [
    ("/live_hi-00000.0.m4s", "HEAD", "", 200),
    ("/live_hi-00000.0.m4s", "GET", "Range: bytes=0-3\r\n", 200),  # whole: allowed
    ("/live_hi.m3u8?_HLS_part=1", "GET", "", 400),  # _HLS_part without _HLS_msn
    ("/live_hi.m3u8?_HLS_msn=x", "GET", "", 400),
    ("/live_hi.m3u8?_HLS_msn=9", "GET", "", 400),  # too far ahead
    ("/old.m4s", "GET", "", 200),  # a file of the folder
    ("/", "GET", "", 200),  # the player
    ("/healthz", "GET", "", 200),
    ("/missing.m3u8", "GET", "", 404),
    ("/.hidden.m3u8", "GET", "", 404),
    ("/live_hi-00000.7.m4s", "GET", "", 404),  # a part never written: not waited for
])
async def test_aiohttp_answers_what_the_fast_path_does_not_take(
        served: Served, target: str, method: str, headers: str, status: int) -> None:
    served.add_part(0, 0)
    client = await Client.open(served)
    client.send(target, method=method, headers=headers)
    answer = await client.answer(body=method != "HEAD")
    assert answer[0] == status and not fast(answer[1]), answer
    await client.close()


async def test_malformed_requests_get_aiohttp_400(served: Served) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", served.http.port)
    writer.write(b"GET /live_hi.m3u8 HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n")
    async with asyncio.timeout(10):
        assert (await reader.read()).split(b" ", 2)[1] == b"400"
    writer.close()


async def test_503_when_nothing_comes_and_no_trace_of_gone_clients(served: Served) -> None:
    """1. a player asks for a part that does not come, and leaves while its request is
       parked; another asks for the same part: two requests parked, one connection open
    2. 3 target durations later (limits are looked at every EXPIRY_STEP) the one still
       there is answered 503, no-store, by the fast path
    3. no trace of the one that left: nothing is parked any more (its request went with
       the other's), and the front holds only the connection still open
    4. the part comes at last: nobody is left to answer, the next request gets it"""
    served.add_part(0, 0)
    gone = await Client.open(served)
    gone.send("/live_hi.m3u8?_HLS_msn=0&_HLS_part=1")
    await served.parked(1)
    await gone.close()
    await until(lambda: not served.front.connections, timeout=5)
    client = await Client.open(served)
    loop = asyncio.get_running_loop()
    started = loop.time()
    client.send("/live_hi.m3u8?_HLS_msn=0&_HLS_part=1")
    await served.parked(2)
    status, headers, _ = await client.answer()
    waited = loop.time() - started
    assert status == 503 and fast(headers) and headers["Cache-Control"] == "no-store"
    # Held from when the server read it: never less than the limit; at most one look
    # later, plus what a loaded 2-core machine may add to a timer (said, not hidden).
    limit, loaded = 3 * served.edge.target_duration, 0.35
    assert limit <= waited < limit + fastpath.EXPIRY_STEP + loaded, waited
    assert served.front.live.parked == 0
    assert len(served.front.connections) == 1
    served.add_part(0, 1)
    client.send("/live_hi-00000.1.m4s")
    assert (await client.answer())[0] == 200
    await client.close()


async def test_idle_connections_are_closed(served: Served,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    http = HttpOrigin(HttpSettings(listen="127.0.0.1", port=0), None, LL_STATUS, None,
                      served.edge)
    monkeypatch.setattr(front, "KEEPALIVE", 0.2)
    monkeypatch.setattr(front, "SWEEP", 0.1)
    await http.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", http.port)
        async with asyncio.timeout(5):
            assert await reader.read() == b""  # closed by the origin
        writer.close()
    finally:
        await http.stop()


async def test_stop_closes_waiting_connections(served: Served) -> None:
    served.add_part(0, 0)
    client = await Client.open(served)
    client.send("/live_hi.m3u8?_HLS_msn=0&_HLS_part=1")
    await served.parked(1)
    await served.http.stop()
    async with asyncio.timeout(5):
        assert await client.reader.read() == b""


async def test_a_taken_port_leaves_nothing_subscribed(served: Served) -> None:
    listeners = len(served.edge._listeners)
    taken = HttpOrigin(HttpSettings(listen="127.0.0.1", port=served.http.port), None,
                       LL_STATUS, None, served.edge)
    with pytest.raises(OSError):
        await taken.start()
    assert len(served.edge._listeners) == listeners
