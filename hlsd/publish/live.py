"""Where the intake hands the live edge for LL-HLS (hlsd.serve.live implements it): init
segments, parts the moment they are written, and complete segments."""

from __future__ import annotations

from typing import Protocol

from hlsd.media.lowlatency import Part
from hlsd.publish.segment import SegmentFile


class LiveSink(Protocol):
    def init(self, rung: str, name: str, data: bytes) -> None: ...

    def part(self, rung: str, part: Part, data: bytes, *, last: bool, discontinuity: bool,
             map_name: str | None) -> None: ...

    def segment(self, seg: SegmentFile, data: bytes) -> None: ...

    def end(self, rung: str) -> None: ...
