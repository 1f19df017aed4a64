"""The admin listener (http.admin_listen/admin_port): /metrics, /info.json and /healthz on
a port of their own, refused (404) on the viewers' port, whose player page reads the
viewer-safe /stream.json instead; without it, everything on the viewers' port as before.
Real servers on 127.0.0.1, both the plain origin and the LL-HLS one (its front owns the
viewers' socket)."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from hlsd import config as cfg
from hlsd.config import HttpSettings
from hlsd.serve.http import HttpOrigin
from hlsd.serve.live import LiveEdge
from hlsd.serve.origin import Origin
from hlsd.serve.status import VIEWER_FIGURES
from tests.fixtures.nginx_cache import free_port

ADMIN = ("metrics", "info.json", "healthz")
INFO = {"master": "live.m3u8", "segment_length": 2.0, "target_duration": 2,
        "low_latency": False, "part_target": None, "segments": 7,
        "rungs": [{"name": "hi", "bandwidth": 1000, "average": 900, "codecs": "avc1.64001f",
                   "resolution": "320x180"}],
        "input": {"on_air": "primary", "location": "srt://0.0.0.0:9000"},
        "destinations": {"www": {"skipped": 0, "queued": 1}}, "asyncio_tasks": 42}


class Status:
    """The daemon's StreamStatus, as far as these tests need it."""

    def __init__(self) -> None:
        self.ok = True

    def health(self) -> tuple[bool, dict[str, Any]]:
        if self.ok:
            return True, {"status": "ok", "stale": [], "rungs": {"hi": {"ok": True}}}
        return False, {"status": "stale", "stale": ["hi"], "message": "no recent segment "
                       "from hi", "input": {"on_air": "lost"}}

    def info(self) -> dict[str, Any]:
        return INFO

    def metrics(self) -> tuple[bytes, str]:
        return b"hlsd_segments_total 7\n", "text/plain; version=0.0.4; charset=utf-8"


@pytest.fixture(params=["plain", "low_latency"])
async def origin(request: pytest.FixtureRequest, tmp_path: Path
                 ) -> AsyncIterator[tuple[HttpOrigin, Status]]:
    """An origin with its admin listener on a free loopback port; the served folder holds
    files named like the admin routes, which must not leak out on the viewers' port."""
    (tmp_path / "live.m3u8").write_bytes(b"#EXTM3U\n")
    for name in ADMIN:
        (tmp_path / name).write_text("a file of the served folder")
    edge = (LiveEdge(2, 6, 0.5, lambda rung: f"live_{rung}.m3u8")
            if request.param == "low_latency" else None)
    status = Status()
    http = HttpOrigin(HttpSettings(listen="127.0.0.1", port=0, admin_listen="127.0.0.1",
                                   admin_port=0), tmp_path, status, None, edge)
    await http.start()
    try:
        yield http, status
    finally:
        await http.stop()


async def get(url: str) -> tuple[int, dict[str, str], bytes]:
    async with aiohttp.ClientSession() as client, client.get(url) as r:
        return r.status, dict(r.headers), await r.read()


async def test_admin_routes_on_their_own_listener_only(
        origin: tuple[HttpOrigin, Status]) -> None:
    """1. the admin listener answers /metrics, /info.json, /healthz (no-store)
    2. the viewers' port answers each 404 (no-store), though the served folder holds a
       file by that name, and still serves the stream and the player page"""
    http, _ = origin
    assert http.admin_url is not None and http.admin_url != http.url
    for route in ADMIN:
        status, headers, body = await get(http.admin_url + route)
        assert status == 200 and headers["Cache-Control"] == "no-store", route
        status, headers, body = await get(http.url + route)
        assert status == 404 and headers["Cache-Control"] == "no-store", (route, body)
    assert (await get(http.admin_url + "info.json"))[2].startswith(b'{"master"')
    assert (await get(http.admin_url + "metrics"))[2] == b"hlsd_segments_total 7\n"
    assert (await get(http.url + "live.m3u8"))[0] == 200
    assert (await get(http.url))[0] == 200
    # the admin listener serves nothing else: no stream, no page
    for path in ("", "live.m3u8", "stream.json"):
        assert (await get(http.admin_url + path))[0] == 404


async def test_the_viewers_get_a_safe_subset_for_the_player_page(
        origin: tuple[HttpOrigin, Status]) -> None:
    """/stream.json: the stream's shape and a health verdict; not the input's URL, the
    destinations or the daemon's own figures; a shield may keep it for a second."""
    http, status = origin
    code, headers, _ = await get(http.url + "stream.json")
    async with aiohttp.ClientSession() as client, client.get(http.url + "stream.json") as r:
        figures = await r.json()
    assert code == 200 and headers["Cache-Control"] == "max-age=1"
    assert set(figures) == {*VIEWER_FIGURES, "health"}
    assert figures["rungs"] == INFO["rungs"]
    assert figures["health"] == {"ok": True, "status": "ok"}
    assert "srt://" not in str(figures)
    status.ok = False
    async with aiohttp.ClientSession() as client, client.get(http.url + "stream.json") as r:
        assert r.status == 200
        assert (await r.json())["health"] == {"ok": False, "status": "stale",
                                              "message": "no recent segment from hi"}
    assert (await get(http.admin_url + "healthz"))[0] == 503  # type: ignore[operator]


async def test_without_an_admin_listener_everything_stays_on_the_viewers_port(
        tmp_path: Path) -> None:
    http = HttpOrigin(HttpSettings(listen="127.0.0.1", port=0), tmp_path, Status())
    await http.start()
    try:
        assert http.admin_url is None
        for route in (*ADMIN, "stream.json"):
            status, headers, _ = await get(http.url + route)
            assert status == 200 and headers["Cache-Control"] in ("no-store", "max-age=1")
    finally:
        await http.stop()


async def test_the_admin_port_taken_fails_the_start_and_frees_the_viewers_port(
        tmp_path: Path) -> None:
    """An admin port in use: start() raises OSError (the daemon reports it), and nothing
    keeps listening — the viewers' port it had bound can be bound again at once."""
    first = HttpOrigin(HttpSettings(listen="127.0.0.1", port=0, admin_listen="127.0.0.1",
                                    admin_port=0), tmp_path, Status())
    await first.start()
    try:
        taken = int(first.admin_url.rsplit(":", 1)[1].rstrip("/"))  # type: ignore[union-attr]
        viewers = free_port()
        second = HttpOrigin(HttpSettings(listen="127.0.0.1", port=viewers,
                                         admin_listen="127.0.0.1", admin_port=taken),
                            tmp_path, Status())
        with pytest.raises(OSError):
            await second.start()
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", viewers))
            s.listen()
    finally:
        await first.stop()


async def test_errors_are_never_kept_by_a_cache(origin: tuple[HttpOrigin, Status]) -> None:
    """Every 4xx carries no-store: a missing file, a path outside the folder, a blocking
    request that makes no sense (LL-HLS: 400 from aiohttp's side of the front)."""
    http, _ = origin
    for path in ("nothere.m4s", "..%2fsecret", "live_hi.m3u8?_HLS_part=1"):
        status, headers, _ = await get(http.url + path)
        assert status >= 400 and headers["Cache-Control"] == "no-store", path
    status, headers, _ = await get(http.url + "robots.txt")
    assert status == 404 and headers["Cache-Control"] == "no-store"


async def test_a_reload_moves_the_admin_routes(tmp_path: Path) -> None:
    """What SIGHUP does with the http section (hlsd.serve.origin.Origin.apply, called by
    the daemon's reload):
    1. started without an admin listener: /metrics on the viewers' port
    2. reloaded with `admin_port: 0`: /metrics 404 there, 200 on the new admin listener
    3. reloaded without it again: back on the viewers' port, the admin listener closed"""
    def config(**http: Any) -> cfg.Config:
        return cfg.parse({
            "temp_dir": str(tmp_path / "work"), "input_location": "lavfi",
            "encoding_profile": "e", "transfer_profile": "www",
            "e": {"ffmpeg_command": "ffmpeg -f lavfi -i testsrc2 -c:v libx264 -f mpegts -"},
            "www": {"transfer_type": "copy", "directory": str(tmp_path / "www")},
            "http": {"port": 0, **http}})

    plain, admin = config(), config(admin_port=0)
    origin = Origin(Status())
    await origin.start(plain)
    try:
        http = await origin.listening()
        assert (await get(http.url + "metrics"))[0] == 200 and http.admin_url is None
        await origin.apply(plain, admin)
        http = await origin.listening()
        assert http.admin_url is not None
        assert (await get(http.url + "metrics"))[0] == 404
        assert (await get(http.admin_url + "metrics"))[0] == 200
        closed = http.admin_url
        await origin.apply(admin, plain)
        http = await origin.listening()
        assert (await get(http.url + "metrics"))[0] == 200 and http.admin_url is None
        with pytest.raises(aiohttp.ClientConnectionError):
            await get(closed + "metrics")
    finally:
        await origin.stop()
