"""The origin's time-shift answers (hlsd.serve.timeshift through HttpOrigin), with and
without LL-HLS in front: spans from the served destination's index, the master carrying
them, and the refusals."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import aiohttp
import pytest

from hlsd.config.model import HttpSettings
from hlsd.media.ladder import Ladder
from hlsd.media.parse import parse_media
from hlsd.publish.listing import Listing
from hlsd.publish.segment import SegmentFile
from hlsd.publish.settings import PublishSettings
from hlsd.publish.state import DestinationState
from hlsd.serve.fastpath import FastLive
from hlsd.serve.http import HttpOrigin
from hlsd.serve.live import LiveEdge
from hlsd.serve.timeshift import TimeShift
from hlsd.serve.wire import Request


class Status:
    def health(self) -> tuple[bool, dict[str, Any]]:
        return True, {}

    def info(self) -> dict[str, Any]:
        return {"master": "live.m3u8"}

    def metrics(self) -> tuple[bytes, str]:
        return b"", "text/plain"


def served(tmp_path: Path, dvr: float) -> tuple[TimeShift, Listing]:
    """A listing of 100 one-second segments of rung `hi`, the newest ending now."""
    listing = Listing(PublishSettings(1, 6, 1.0, "", dvr_window=dvr), DestinationState())
    listing.add_rung("hi")
    newest = datetime.now(UTC) - timedelta(seconds=100)
    for seq in range(100):
        listing.add(SegmentFile("hi", seq, tmp_path / f"live_hi-{seq:05d}.ts", 1.0, 188,
                                True, False, newest + timedelta(seconds=seq)))
    ladder = Ladder("live", 6)
    ladder.set_rungs({"hi": 1_000_000})
    timeshift = TimeShift(ladder, cast(Any, SimpleNamespace(
        by_name={"www": SimpleNamespace(listing=listing)})))
    timeshift.served = "www"
    (tmp_path / "live.m3u8").write_text(
        "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1000000\nlive_hi.m3u8\n")
    (tmp_path / "live_hi.m3u8").write_text(listing.playlists["hi"].render())
    return timeshift, listing


@pytest.mark.parametrize("low_latency", [False, True])
async def test_spans_master_and_refusals(tmp_path: Path, low_latency: bool) -> None:
    """1. An origin (with LL-HLS's front and live edge, or without) serves a folder whose
    destination keeps 100 s; 2. a closed span, an open one and its delta update (asked
    for in any query order, with LL-HLS's directives too; a closed span's never skips), the
    master with a span, the plain live playlist; 3. a bad time (400), a span older than
    everything (404)."""
    timeshift, _ = served(tmp_path, 3600.0)
    live = LiveEdge(1, 6, 0.5, lambda rung: f"live_{rung}.m3u8") if low_latency else None
    origin = HttpOrigin(HttpSettings(port=0), tmp_path, Status(), live=live,
                        timeshift=timeshift)
    await origin.start()
    try:
        async with aiohttp.ClientSession() as client:
            async def get(path: str) -> tuple[int, str]:
                async with client.get(origin.url + path) as answer:
                    return answer.status, await answer.text()

            status, text = await get("live_hi.m3u8?start=now-40&end=now-20")
            closed = parse_media(text)
            assert status == 200 and closed.ended and 19 <= len(closed.entries) <= 21
            status, text = await get("live_hi.m3u8?start=now-30")
            assert status == 200 and not parse_media(text).ended
            assert parse_media(text).entries[-1].seq == 99
            # a delta update, whatever the query's order and with LL-HLS's directives
            start = f"start={time.time() - 30:.3f}"
            full = (await get(f"live_hi.m3u8?{start}"))[1]
            assert "#EXT-X-SERVER-CONTROL:CAN-SKIP-UNTIL=6.000" in full
            for query in (f"_HLS_skip=YES&{start}",
                          f"_HLS_msn=99&_HLS_part=0&_HLS_skip=v2&{start}"):
                status, delta = await get(f"live_hi.m3u8?{query}")
                assert status == 200 and "#EXT-X-SKIP:SKIPPED-SEGMENTS=" in delta, query
                assert delta.splitlines()[-6:] == full.splitlines()[-6:]
            assert "#EXT-X-SKIP" not in (await get("live_hi.m3u8?start=now-40&end=now-20&"
                                                   "_HLS_skip=YES"))[1]
            status, text = await get("live.m3u8?start=now-30")
            assert status == 200 and f"live_hi.m3u8?start={int(time.time()) - 30}" in text
            status, text = await get("live_hi.m3u8")  # no span: the file as published
            assert status == 200 and text == (tmp_path / "live_hi.m3u8").read_text()
            assert (await get("live_hi.m3u8?start=soon"))[0] == 400
            assert (await get("live_hi.m3u8?start=now-9000&end=now-8000"))[0] == 404
    finally:
        await origin.stop()


async def test_without_a_window_a_span_is_404(tmp_path: Path) -> None:
    timeshift, listing = served(tmp_path, 0.0)
    assert not listing.dvr
    origin = HttpOrigin(HttpSettings(port=0), tmp_path, Status(), timeshift=timeshift)
    await origin.start()
    try:
        async with aiohttp.ClientSession() as client, \
                client.get(origin.url + "live_hi.m3u8?start=now-30") as answer:
            assert answer.status == 404
            assert answer.headers["Cache-Control"] == "no-store"
    finally:
        await origin.stop()


def test_the_fast_path_hands_a_span_to_aiohttp() -> None:
    edge = LiveEdge(1, 6, 0.5, lambda rung: f"live_{rung}.m3u8")
    fast = FastLive(edge, lambda: None, lambda _folder, _name: None)
    try:
        assert not fast.answer(Request("live_hi.m3u8", {"start": "now-30"}, 0, False),
                               cast(Any, None))
    finally:
        fast.close()
