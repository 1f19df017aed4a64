"""The origin's in-memory live edge (LL-HLS): what a blocking request is answered with."""

from __future__ import annotations

from hlsd.media.lowlatency import Part
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
