"""The live edge the built-in origin serves for LL-HLS, held in memory: per rung its
recent complete segments, their parts, the part in progress and the init segments,
and a way to wait for what a blocking request asks for.

Fed by the publish stage (it is the intake's LiveSink); read by hlsd.serve.llhttp.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from hlsd.media.lowlatency import LowLatencyView, Part, Pending, Report
from hlsd.media.playlist import MediaPlaylist, PlaylistError
from hlsd.publish.listing import entry_of
from hlsd.publish.segment import SegmentFile
from hlsd.serve.playlist import gzip_body

PART_NAME = re.compile(r"^(?P<stem>.+)-(?P<seq>\d+)\.(?P<index>\d+)\.m4s$")


@dataclass
class RungEdge:
    playlist: MediaPlaylist
    parts: dict[int, list[Part]] = field(default_factory=dict)
    pending: Pending | None = None
    next_part: tuple[str, int, int] | None = None  # (stem, seq, index) the hint names
    width: int = 5  # digits of the sequence number in part names
    objects: dict[str, bytes] = field(default_factory=dict)  # parts, segments, inits
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def touch(self) -> None:
        """Wake everyone waiting for news of this rung."""
        self.changed.set()
        self.changed = asyncio.Event()


class LiveEdge:
    """`variant_name(rung)` names each rung's media playlist at the origin."""

    def __init__(self, target_duration: int, window: int, part_target: float,
                 variant_name: Callable[[str], str]) -> None:
        self.target_duration = target_duration
        self.window = window
        self.part_target = part_target
        self.variant_name = variant_name
        self.rungs: dict[str, RungEdge] = {}
        # Grows with every change of any rung (a playlist reports on the other rungs too).
        self.version = 0
        self._rendered: dict[tuple[str, bool, bool], tuple[int, bytes]] = {}
        self._playlists: dict[str, str] = {}  # playlist name → rung
        self._listeners: list[Callable[[str], None]] = []

    def _rung(self, rung: str) -> RungEdge:
        edge = self.rungs.get(rung)
        if edge is None:
            edge = self.rungs[rung] = RungEdge(MediaPlaylist(self.target_duration,
                                                             window=self.window))
            self._playlists[self.variant_name(rung)] = rung
        return edge

    def listen(self, listener: Callable[[str], None]) -> Callable[[], None]:
        """`listener(rung)` after every change of a rung; returns what stops it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    # -- LiveSink: what the intake reports ------------------------------------------------
    def init(self, rung: str, name: str, data: bytes) -> None:
        self._rung(rung).objects[name] = data

    def part(self, rung: str, part: Part, data: bytes, *, last: bool, discontinuity: bool,
             map_name: str | None) -> None:
        edge = self._rung(rung)
        edge.objects[part.name] = data
        pending = edge.pending
        if pending is None or pending.seq != part.seq:
            pending = Pending(part.seq, discontinuity=discontinuity, map_name=map_name)
        edge.pending = replace(pending, parts=(*pending.parts, part))
        match = PART_NAME.match(part.name)
        if match is not None:
            stem, edge.width = match["stem"], len(match["seq"])
            edge.next_part = (stem, part.seq + 1, 0) if last else (stem, part.seq,
                                                                   part.index + 1)
        self._changed(rung, edge)

    def segment(self, seg: SegmentFile, data: bytes) -> None:
        """A complete segment, or a gap (EXT-X-GAP: no data, no parts, and no hint of a
        part that will not come)."""
        edge = self._rung(seg.rung)
        pending = edge.pending
        parts = list(pending.parts) if pending is not None and pending.seq == seg.seq else []
        edge.pending = None
        playlist = edge.playlist
        try:
            removed = playlist.add(entry_of(seg, seg.discontinuity and bool(playlist.entries)))
        except PlaylistError:
            return  # the regular destinations log and count it
        if seg.gap:
            for part in parts:  # a run that stopped mid-segment: its parts are no use
                edge.objects.pop(part.name, None)
            parts = []
            if edge.next_part is not None and edge.next_part[1] <= seg.seq:
                edge.next_part = None  # waiters for the hinted part get their 404 now
        else:
            edge.objects[seg.name] = data
        edge.parts[seg.seq] = parts
        for old in removed:
            edge.objects.pop(old.name, None)
            for part in edge.parts.pop(old.seq, []):
                edge.objects.pop(part.name, None)
        listed_maps = {e.map_name for e in playlist.entries}
        for name in [n for n in edge.objects if n.endswith(".mp4") and n not in listed_maps
                     and (pending is None or n != pending.map_name)]:
            del edge.objects[name]
        self._changed(seg.rung, edge)

    def end(self, rung: str) -> None:
        edge = self._rung(rung)
        edge.playlist.end()
        self._changed(rung, edge)

    def _changed(self, rung: str, edge: RungEdge) -> None:
        self.version += 1
        edge.touch()
        for listener in self._listeners:
            listener(rung)

    # -- what the origin reads ------------------------------------------------------------
    def playlist(self, rung: str, skip: bool = False, gzipped: bool = False) -> bytes:
        """The rung's LL playlist as sent (gzip: Apple's rule 10.1). Rendered once per
        change and shared: the players blocked on the next part all wake at once, and ask
        for the same text."""
        cached = self._rendered.get((rung, skip, gzipped))
        if cached is not None and cached[0] == self.version:
            return cached[1]
        if gzipped:
            body = gzip_body(self.playlist(rung, skip))
        else:
            body = self.view(rung).render(skip=skip).encode()
        self._rendered[(rung, skip, gzipped)] = (self.version, body)
        return body

    def rung_of(self, playlist_name: str) -> str | None:
        return self._playlists.get(playlist_name)

    def view(self, rung: str) -> LowLatencyView:
        edge = self.rungs[rung]
        hint = None
        if edge.next_part is not None:
            stem, seq, index = edge.next_part
            hint = f"{stem}-{seq:0{edge.width}d}.{index}.m4s"
        reports = []
        for other, other_edge in self.rungs.items():
            if other != rung:
                msn, part = self._bare(other_edge).last()
                reports.append(Report(self.variant_name(other), msn, part))
        return LowLatencyView(edge.playlist, self.part_target, edge.parts, edge.pending, hint,
                              reports)

    def last(self, rung: str) -> tuple[int, int | None]:
        """(MSN, part index) of the newest thing the rung's playlist lists."""
        return self._bare(self.rungs[rung]).last()

    def _bare(self, edge: RungEdge) -> LowLatencyView:
        return LowLatencyView(edge.playlist, self.part_target, edge.parts, edge.pending)

    def too_far(self, rung: str, msn: int, part: int | None) -> bool:
        """A request beyond what may be waited for (RFC 8216bis §6.2.5.2): more than two
        segments ahead, or more parts ahead than the advance part limit."""
        if self.rungs[rung].playlist.ended:
            return False
        last_msn, last_part = self.last(rung)
        return msn > last_msn + 2 or (
            part is not None and msn == last_msn and last_part is not None
            and part > last_part + advance_part_limit(self.part_target))

    @property
    def blocking_timeout(self) -> float:
        """How long a blocking request or one for the hinted part is held at most."""
        return 3.0 * self.target_duration

    def has(self, rung: str, msn: int, part: int | None) -> bool:
        """Does the rung's playlist contain segment `msn` (complete), or its part `part`?
        A part past the last of a completed segment means the next segment's first
        (RFC 8216bis §6.2.5.2: a client cannot know where a segment ends)."""
        edge = self.rungs[rung]
        entries = edge.playlist.entries
        newest = entries[-1].seq if entries else edge.playlist.media_sequence - 1
        pending = edge.pending if edge.pending is not None and edge.pending.parts else None
        if edge.playlist.ended or msn < edge.playlist.media_sequence:
            return True
        if part is None:
            return newest >= msn
        if newest >= msn:
            if part < len(edge.parts.get(msn, ())) or newest > msn:
                return True
            if entries[msn - edge.playlist.media_sequence].gap:
                return True  # a gap is complete as listed: no part of it will come
            return pending is not None and pending.seq > msn
        if pending is None or pending.seq < msn:
            return False
        return pending.seq > msn or len(pending.parts) > part

    async def wait(self, rung: str, ready: Callable[[], bool], timeout: float) -> bool:
        """Until `ready()` (re-checked at every change of the rung), or False at timeout."""
        if ready():  # a player a part behind: no timer to arm and cancel
            return True
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while not ready():
                    await self.rungs[rung].changed.wait()
                return True
        return ready()

    def find(self, name: str) -> bytes | None:
        for edge in self.rungs.values():
            data = edge.objects.get(name)
            if data is not None:
                return data
        return None

    def settled(self, rung: str, name: str) -> bool:
        """The hinted part `name` of `rung` is here, or will not come (the hint moved on
        without it: its segment became a gap)."""
        return self.find(name) is not None or self.hinted(name) != rung

    def hinted(self, name: str) -> str | None:
        """The rung whose preload hint names `name`, the one part worth waiting for: every
        part before it is in memory or gone for good (never written, or out of the
        window)."""
        match = PART_NAME.match(name)
        if match is None:
            return None
        for rung, edge in self.rungs.items():
            if edge.next_part == (match["stem"], int(match["seq"]), int(match["index"])):
                return rung
        return None


def advance_part_limit(part_target: float) -> int:
    """How far beyond the last part a request may ask (RFC 8216bis §6.2.5.2)."""
    return math.floor(3 / part_target) if part_target < 1 else 3
