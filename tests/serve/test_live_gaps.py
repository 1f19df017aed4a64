"""EXT-X-GAP at the LL-HLS live edge: a gap entry has no parts and no data, a blocking
request for it is answered at once, the preload hint of a part that will not come goes
(and whoever waited for it gets a 404 at once, through aiohttp or the front's fast path),
rendition reports name it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import web

from hlsd.media.lowlatency import Part
from hlsd.publish.segment import SegmentFile
from hlsd.serve import llhttp
from hlsd.serve.fastpath import FastLive
from hlsd.serve.live import LiveEdge
from hlsd.serve.wire import Request

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def part(rung: str, seq: int, index: int) -> Part:
    return Part(seq, index, f"live_{rung}-{seq:05d}.{index}.m4s", 0.5, index == 0)


def segment(rung: str, seq: int, gap: bool = False) -> SegmentFile:
    return SegmentFile(rung, seq, Path(f"/w/{rung}/live_{rung}-{seq:05d}.m4s"), 2.0,
                       0 if gap else 8, True, False, T0, gap=gap)


def produce(edge: LiveEdge, rung: str, seq: int, parts: int = 4) -> None:
    for index in range(parts):
        edge.part(rung, part(rung, seq, index), b"p", last=index == 3, discontinuity=False,
                  map_name="init.mp4")
    if parts == 4:
        edge.segment(segment(rung, seq), b"pppp")


async def test_a_gap_at_the_live_edge() -> None:
    """1. rungs hi and lo produce 0 and 1; hi's encoder then stops after two parts of 2
    2. a request already waiting for hi's hinted part (2.2) is answered 404 once 2 is
       listed as a gap, not held for the blocking timeout
    3. hi's playlist lists 2 as #EXT-X-GAP without parts (its two parts are gone) and no
       preload hint; _HLS_msn=2 with any _HLS_part is answered at once
    4. lo's playlist reports hi's LAST-MSN=2, without LAST-PART"""
    edge = LiveEdge(2, 6, 0.5, lambda rung: f"live_{rung}.m3u8")
    for seq in range(2):
        produce(edge, "hi", seq)
        produce(edge, "lo", seq)
    produce(edge, "hi", 2, parts=2)
    waiting = asyncio.create_task(llhttp.media(edge, "live_hi-00002.2.m4s"))
    await asyncio.sleep(0)
    assert not waiting.done()
    edge.segment(segment("hi", 2, gap=True), b"")
    async with asyncio.timeout(0.5):  # far less than the 6 s blocking timeout
        with pytest.raises(web.HTTPNotFound):
            await waiting
    text = edge.view("hi").render()
    assert "#EXT-X-GAP\n#EXTINF:2.000,\nlive_hi-00002.m4s" in text
    assert "live_hi-00002.0.m4s" not in text and "#EXT-X-PRELOAD-HINT" not in text
    assert edge.find("live_hi-00002.0.m4s") is None and edge.find("live_hi-00002.m4s") is None
    assert edge.has("hi", 2, None) and edge.has("hi", 2, 0) and edge.has("hi", 2, 7)
    assert not edge.has("hi", 3, 0)  # what follows is waited for, as ever
    async with asyncio.timeout(0.5):
        assert await llhttp.media(edge, "live_hi-00003.0.m4s") is None  # not hinted
    assert 'URI="live_hi.m3u8",LAST-MSN=2\n' in edge.view("lo").render()
    produce(edge, "hi", 3)  # back: its parts and segment as before
    assert edge.has("hi", 3, 3) and "live_hi-00003.3.m4s" in edge.view("hi").render()


class Reply:
    def __init__(self) -> None:
        self.sent: list[bytes] = []

    @property
    def closed(self) -> bool:
        return False

    def send(self, data: bytes) -> None:
        self.sent.append(data)


async def test_the_fast_path_answers_a_waiter_for_a_gapped_part_at_once() -> None:
    """The front's fast path parks a request for the hinted part; the segment becomes a
    gap: the request gets its 404 with that change, not after the blocking timeout."""
    edge = LiveEdge(2, 6, 0.5, lambda rung: f"live_{rung}.m3u8")
    fast = FastLive(edge, lambda: None, lambda _folder, _name: None)
    try:
        produce(edge, "hi", 0)
        produce(edge, "hi", 1, parts=1)
        reply = Reply()
        assert fast.answer(Request("live_hi-00001.1.m4s", {}, 0, False), reply)
        assert reply.sent == [] and fast.parked == 1
        edge.segment(segment("hi", 1, gap=True), b"")
        assert len(reply.sent) == 1 and reply.sent[0].startswith(b"HTTP/1.1 404")
        assert fast.parked == 0
        blocked = Reply()  # a blocking reload for the gap: answered at once
        assert fast.answer(Request("live_hi.m3u8", {"_HLS_msn": "1", "_HLS_part": "2"}, 0,
                                   False), blocked)
        assert blocked.sent[0].startswith(b"HTTP/1.1 200") and b"#EXT-X-GAP" in blocked.sent[0]
    finally:
        fast.close()
