"""Recording: every segment also stored for good at the `recording` destination and, per
rung, a VOD playlist of each wall-clock period (names: hlsd.media.archive), closed when
the first segment of the next period arrives and at stop (an EVENT playlist until then),
plus a master per period once every rung's part of it is stored. Nothing there is ever
deleted.

Segments wait in an unbounded queue (in temp_dir, held) rather than a lane: a slow
archive must not lose anything, and never holds up the live destinations either.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, replace
from functools import partial

import structlog

from hlsd.config.model import RecordingSettings
from hlsd.media.archive import PartName, master_for_part, period_start
from hlsd.media.ladder import Ladder
from hlsd.media.playlist import Entry, MediaPlaylist, PlaylistError
from hlsd.publish import transfer
from hlsd.publish.listing import entry_of
from hlsd.publish.retry import Retrier
from hlsd.publish.segment import SegmentFile

log = structlog.get_logger()

# An open part is stored as an EVENT playlist every so many segments: a daemon killed
# mid-period leaves its recording named up to there, not only segments.
OPEN_EVERY = 10


@dataclass
class Part:
    tag: str  # names the part's files (hlsd.media.archive.PartName)
    start: float  # its period's start, epoch seconds
    playlist: MediaPlaylist


class Recorder:
    def __init__(self, settings: RecordingSettings, ladder: Ladder, target_duration: int,
                 index_prefix: str, started: float | None = None) -> None:
        profile = settings.transfer_profile
        self.transfer = transfer.create(profile)
        self.name = self.transfer.name
        self.retry = Retrier(self.name, profile.concurrency, cap=10.0)
        self.period = settings.period
        self.names = PartName(index_prefix, settings.period,
                              time.time() if started is None else started)
        self._ladder = ladder
        self._target = target_duration
        self._queue: asyncio.Queue[SegmentFile] = asyncio.Queue()
        self._busy = False
        self._parts: dict[str, Part] = {}  # rung -> its open part
        self._rungs: dict[str, set[str]] = {}  # tag -> rungs with a part of that tag
        self._listed: dict[str, set[str]] = {}  # tag -> rungs whose part is stored (open)
        self._closed: dict[str, set[str]] = {}  # tag -> rungs whose part is closed
        self._masters: set[str] = set()  # tags whose master is stored
        self._inits: set[str] = set()
        self.log = log.bind(destination=self.name, recording=True)

    def offer(self, seg: SegmentFile) -> None:
        seg.hold()
        self._queue.put_nowait(seg)

    def idle(self) -> bool:
        return self._queue.empty() and not self._busy

    async def run(self) -> None:
        await self.retry(self.transfer.open, "connect")
        try:
            while True:
                seg = await self._queue.get()
                self._busy = True
                try:
                    await self._record(seg)
                finally:
                    seg.release()
                    self._busy = False
        finally:
            while not self._queue.empty():
                self._queue.get_nowait().release()
            await self.transfer.close()

    async def close(self) -> None:
        """At stop, once the queue is drained: every open part closed and stored."""
        for rung in list(self._parts):
            await self._close(rung)

    async def _record(self, seg: SegmentFile) -> None:
        if not seg.gap and not await self._store(seg):
            self.log.error("segment file missing in temp_dir; not recorded", rung=seg.rung,
                           seq=seg.seq)
            return
        start = period_start(seg.program_date_time.timestamp(), self.period)
        part = self._parts.get(seg.rung)
        if part is not None and part.start != start:
            await self._close(seg.rung)
            part = None
        if part is None:
            tag = self.names.tag(start)
            part = self._parts[seg.rung] = Part(tag, start, MediaPlaylist(self._target,
                                                                          window=0))
            self._rungs.setdefault(tag, set()).add(seg.rung)
        # The first part of a run that began mid-period follows a gap: say so.
        first = not part.playlist.entries and part.start < self.names.run_started
        try:
            _append(part.playlist, entry_of(seg, seg.discontinuity or first))
        except PlaylistError as exc:
            self.log.error("segment cannot be recorded", rung=seg.rung, seq=seg.seq,
                           error=str(exc))
            return
        if len(part.playlist.entries) % OPEN_EVERY == 0:
            await self._publish(seg.rung, part)  # an EVENT playlist until it closes

    async def _store(self, seg: SegmentFile) -> bool:
        init = seg.init
        if init is not None and init.name not in self._inits:
            if not await self.retry(partial(self.transfer.put_segment, init.path, init.name),
                                    "init segment", abort=lambda: not init.path.exists()):
                return False
            self._inits.add(init.name)
        return await self.retry(partial(self.transfer.put_segment, seg.path, seg.name),
                                "segment", abort=lambda: not seg.path.exists())

    async def _close(self, rung: str) -> None:
        part = self._parts.pop(rung)
        if not part.playlist.entries:
            return
        part.playlist.end()
        await self._publish(rung, part)
        self.log.info("recording closed", rung=rung, playlist=self.names.variant(rung, part.tag),
                      segments=len(part.playlist.entries),
                      duration=round(part.playlist.duration, 3))
        closed = self._closed.setdefault(part.tag, set())
        closed.add(rung)
        if closed >= self._rungs[part.tag] and part.tag not in self._masters:
            await self._master(part.tag, closed)  # a rung that never began it is left out

    async def _publish(self, rung: str, part: Part) -> None:
        await self.retry(partial(self.transfer.put_playlist, part.playlist.render().encode(),
                                 self.names.variant(rung, part.tag)), "recording playlist")
        listed = self._listed.setdefault(part.tag, set())
        listed.add(rung)
        if listed >= set(self._ladder.rungs) and part.tag not in self._masters:
            await self._master(part.tag, listed)

    async def _master(self, tag: str, rungs: set[str]) -> None:
        live = self._ladder.master_text(set())
        if live is None:
            return  # not measured yet: the variants' own playlists stand alone
        names = {self._ladder.variant_name(r): self.names.variant(r, tag) for r in rungs}
        await self.retry(partial(self.transfer.put_playlist,
                                 master_for_part(live, names).encode(),
                                 self.names.master(tag)), "recording master")
        self._masters.add(tag)


def _append(playlist: MediaPlaylist, entry: Entry) -> None:
    """A keep-all playlist keeps what it has across a jump in numbers (a segment that could
    not be recorded), where a live window would start over: the jump is a discontinuity."""
    entries = playlist.entries
    if entries and entry.seq != entries[-1].seq + 1 and entry.seq > entries[-1].seq:
        playlist.add(replace(entry, seq=entries[-1].seq + 1))  # every check add() makes
        entries[-1] = replace(entry, discontinuity=True, iframe_seq=entries[-1].iframe_seq)
        return
    playlist.add(entry)
