"""POST /cue (hlsd.serve.control) on a real admin listener with a CueDesk and no pipeline:
answered once a segment opened the break; each bad request refused with its status;
never on the viewers' port, with or without an admin listener (plain and LL-HLS origin)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from hlsd.config import HttpSettings
from hlsd.publish.cues import CueDesk
from hlsd.serve.http import HttpOrigin
from hlsd.serve.live import LiveEdge
from tests.daemon_util import until
from tests.serve.test_admin import Status

T0 = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
SETTINGS = HttpSettings(listen="127.0.0.1", port=0, admin_listen="127.0.0.1", admin_port=0)


@pytest.fixture
async def admin(tmp_path: Path) -> AsyncIterator[tuple[str, CueDesk]]:
    """The admin listener's URL and the desk behind it (a cue waits 1 s at most)."""
    desk = CueDesk(("daterange",), wait=1.0)
    http = HttpOrigin(SETTINGS, tmp_path, Status(), cues=desk)
    await http.start()
    try:
        assert http.admin_url is not None
        yield http.admin_url, desk
    finally:
        await http.stop()


async def post(url: str, **kw: Any) -> tuple[int, str | None, Any]:
    async with aiohttp.ClientSession() as client, client.post(url, **kw) as r:
        body = await r.json() if r.content_type == "application/json" else await r.text()
        return r.status, r.headers.get("Cache-Control"), body


async def opened_by_a_segment(desk: CueDesk, seq: int, ask: Any) -> Any:
    """Asks (the coroutine `ask`), and once the cue waits, a segment `seq` comes."""
    asking = asyncio.create_task(ask)
    await until(lambda: desk.waiting == 1)
    assert desk.marks(seq, T0, 0)  # it carries the break's opening
    return await asking


async def test_a_cue_is_answered_when_its_segment_comes(
        admin: tuple[str, CueDesk]) -> None:
    """1. a JSON body: 200 once segment 5 came, with the ID, START-DATE and seq (no-store)
    2. the same ID again: 409, nothing waits
    3. form fields, then the query string alone (no ID: hlsd makes one): 200 each"""
    url, desk = admin
    status, cache, body = await opened_by_a_segment(
        desk, 5, post(url + "cue", json={"duration": 6, "id": "ad-1"}))
    assert (status, cache) == (200, "no-store")
    assert body == {"id": "ad-1", "start_date": "2026-12-06T10:00:00.000Z", "seq": 5}
    status, cache, body = await post(url + "cue", json={"duration": 6, "id": "ad-1"})
    assert (status, cache) == (409, "no-store") and "exists already" in body["error"]
    assert desk.waiting == 0
    status, _, body = await opened_by_a_segment(
        desk, 6, post(url + "cue", data={"duration": "4", "id": "ad-2"}))
    assert status == 200 and body["id"] == "ad-2" and body["seq"] == 6
    status, _, body = await opened_by_a_segment(desk, 7, post(url + "cue?duration=2.5"))
    assert status == 200 and body["id"].startswith("hlsd-") and body["seq"] == 7


@pytest.mark.parametrize("request_kw", [
    {}, {"json": {"id": "x"}}, {"json": {"duration": "abc"}}, {"json": {"duration": 0}},
    {"json": {"duration": -3}}, {"json": {"duration": True}}, {"data": {"duration": "nan"}},
    {"json": {"duration": 1e9}}, {"json": {"duration": 6, "id": 5}},
    {"json": {"duration": 6, "id": 'a"b'}}, {"json": [6]},
    {"data": b"{not json", "headers": {"Content-Type": "application/json"}},
    {"data": b"duration=6", "headers": {"Content-Type": "text/plain"}},
], ids=["nothing", "no-duration", "not-a-number", "zero", "negative", "bool", "nan",
        "past-a-day", "id-not-a-string", "id-the-tag-cannot-hold", "not-an-object",
        "not-json", "not-a-form"])
async def test_bad_requests_are_400_and_ask_for_nothing(
        admin: tuple[str, CueDesk], request_kw: dict[str, Any]) -> None:
    url, desk = admin
    status, cache, body = await post(url + "cue", **request_kw)
    assert (status, cache) == (400, "no-store") and body["error"]
    assert desk.waiting == 0 and desk.marks(0, T0, 0) == ()  # no break asked for


async def test_no_segment_in_time_is_503_and_withdraws_the_cue(
        admin: tuple[str, CueDesk]) -> None:
    url, desk = admin
    status, cache, body = await post(url + "cue", json={"duration": 6, "id": "late"})
    assert (status, cache) == (503, "no-store") and "within 1 s" in body["error"]
    assert desk.marks(0, T0, 0) == ()  # never opens later


async def test_get_is_405(admin: tuple[str, CueDesk]) -> None:
    url, _ = admin
    async with aiohttp.ClientSession() as client, client.get(url + "cue") as r:
        assert r.status == 405 and r.headers["Allow"] == "POST"
        assert r.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("admin_port", [0, None], ids=["admin-listener", "none"])
@pytest.mark.parametrize("low_latency", [False, True], ids=["plain", "ll-hls"])
async def test_never_on_the_viewers_port(tmp_path: Path, admin_port: int | None,
                                         low_latency: bool) -> None:
    """A viewer cannot open a break: POST /cue on the viewers' port is 404 or 405 and asks
    for nothing, whether the admin routes have a listener of their own or not."""
    desk = CueDesk(("daterange",), wait=1.0)
    edge = LiveEdge(2, 6, 0.5, lambda rung: f"live_{rung}.m3u8") if low_latency else None
    settings = HttpSettings(listen="127.0.0.1", port=0, admin_port=admin_port,
                            admin_listen="127.0.0.1" if admin_port is not None else None)
    http = HttpOrigin(settings, tmp_path, Status(), None, edge, cues=desk)
    await http.start()
    try:
        for kw in ({"json": {"duration": 6}}, {"data": {"duration": "6"}}, {}):
            status, _, _ = await post(http.url + "cue?duration=6", **kw)
            assert status in (404, 405)
            assert desk.waiting == 0
    finally:
        await http.stop()
