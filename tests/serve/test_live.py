"""The origin's in-memory live edge (LL-HLS): what a blocking request is answered with."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from hlsd.media.lowlatency import Part
from hlsd.publish.segment import SegmentFile
from hlsd.serve import llhttp
from hlsd.serve.live import LiveEdge


def part(seq: int, index: int) -> Part:
    return Part(seq, index, f"live_hi-{seq:05d}.{index}.m4s", 0.5, index == 0)


def test_one_rendering_per_change_and_a_new_one_after_each() -> None:
    """Every request woken by one change gets the same rendered bytes; any change of any
    rung (its own parts, or another rung's, which it reports) renders anew."""
    edge = LiveEdge(2, 6, 0.5, lambda rung: f"live_{rung}.m3u8")
    edge.part("hi", part(0, 0), b"p0", last=False, discontinuity=False, map_name=None)
    edge.part("lo", part(0, 0), b"q0", last=False, discontinuity=False, map_name=None)
    first = edge.playlist("hi")
    assert edge.playlist("hi") is first  # shared, not rendered again
    assert b'URI="live_hi-00000.1.m4s"' in first  # the preload hint
    edge.part("hi", part(0, 1), b"p1", last=False, discontinuity=False, map_name=None)
    second = edge.playlist("hi")
    assert b"#EXT-X-PART:DURATION=0.50000,URI=\"live_hi-00000.1.m4s\"" in second
    edge.part("lo", part(0, 1), b"q1", last=False, discontinuity=False, map_name=None)
    third = edge.playlist("hi")
    assert third != second and b"LAST-PART=1" in third  # the report on `lo` moved
    assert edge.playlist("hi", skip=True) == third  # nothing to skip yet: the same text


async def test_only_the_hinted_part_is_waited_for() -> None:
    """Between a segment's end and the next segment's first part: a request for a part
    name that is not there (never written, or gone with its segment) is answered at
    once, not held until the blocking timeout; the hinted part is held until written."""
    edge = LiveEdge(2, 6, 0.5, lambda rung: f"live_{rung}.m3u8")
    for index in range(4):
        edge.part("hi", part(0, index), b"p%d" % index, last=index == 3, discontinuity=False,
                  map_name=None)
    edge.segment(SegmentFile("hi", 0, Path("/w/hi/live_hi-00000.m4s"), 2.0, 8, True, False,
                             datetime(2024, 1, 1, tzinfo=UTC)), b"p0p1p2p3")
    assert edge.rungs["hi"].pending is None
    async with asyncio.timeout(0.5):  # far less than the 6 s a blocking request may wait
        assert await llhttp.media(edge, "live_hi-00000.7.m4s") is None
        assert await llhttp.media(edge, "live_hi-00001.3.m4s") is None  # beyond the hint
    hinted = asyncio.create_task(llhttp.media(edge, "live_hi-00001.0.m4s"))
    await asyncio.sleep(0)
    assert not hinted.done()
    edge.part("hi", part(1, 0), b"next", last=False, discontinuity=False, map_name=None)
    async with asyncio.timeout(1):
        answer = await hinted
    assert answer is not None and answer.body == b"next"
