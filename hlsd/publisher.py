"""One destination's playlist progression: segment stored → variant playlist → master.

A playlist published here never names a segment not already stored here; segments that
leave a playlist are deleted only after the RFC 8216 §6.2.2 grace time.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

import structlog

from hlsd.ladder import Ladder
from hlsd.playlist import Entry, MediaPlaylist
from hlsd.retention import Retention
from hlsd.segment import SegmentFile
from hlsd.transfer.base import Transfer, TransferError
from hlsd.uploader import Lane, Retrier

log = structlog.get_logger()

DELETE_BATCH = 1000
# While a destination keeps losing segments (down, or too slow), one "segments skipped"
# line per this many seconds sums them up, instead of one line per segment and rung.
SKIP_REPORT_EVERY = 30.0


class PublishMetrics(Protocol):
    def upload(self, destination: str, kind: str, seconds: float) -> None: ...
    def upload_failure(self, destination: str) -> None: ...
    def skipped(self, destination: str, n: int) -> None: ...
    def queue_depth(self, destination: str, n: int) -> None: ...


@dataclass(frozen=True)
class PublishSettings:
    target_duration: int
    window: int  # index_segment_count
    segment_length: float
    url_prefix: str

    @property
    def lane_capacity(self) -> int:
        if self.window == 0:
            return 100_000  # keep-all playlists: nothing may be skipped
        return max(self.window, math.ceil(3 * self.target_duration / self.segment_length) + 1)


class Destination:
    def __init__(self, transfer: Transfer, concurrency: int, settings: PublishSettings,
                 ladder: Ladder, metrics: PublishMetrics | None = None,
                 state: dict[str, Any] | None = None) -> None:
        self.transfer = transfer
        self.name = transfer.name
        self.settings = settings
        self.ladder = ladder
        self.metrics = metrics
        self.log = log.bind(destination=self.name)
        # A dead destination is probed at least every two target durations, so one that
        # returns is caught up before the window has moved on much further.
        self.retry = Retrier(self.name, concurrency,
                             on_failure=lambda: metrics.upload_failure(self.name)
                             if metrics else None,
                             cap=min(10.0, max(2.0, 2.0 * settings.target_duration)))
        self.lanes: dict[str, Lane] = {}
        self.playlists: dict[str, MediaPlaylist] = {}
        self.published_variants: set[str] = set()
        self.retention = Retention()
        self.skipped = 0
        self._unreported: dict[str, list[int]] = {}  # rung -> [count, first seq, last seq]
        self._skips_reported_at = -SKIP_REPORT_EVERY  # monotonic time of the last line
        self._deletes_failing = False
        self._removed: dict[str, list[tuple[Entry, float]]] = {}
        self._master_text: str | None = None
        self._master_lock = asyncio.Lock()
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._done: dict[str, asyncio.Event] = {}
        # Rungs whose playlist gained segments not yet published: a stop waits for them,
        # or the last segment would be stored but named by no playlist.
        self._unpublished: set[str] = set()
        # Lanes start with their rung, possibly before the destination is open; they wait
        # for it, so a backend that needs open() never sees an upload first.
        self._opened = asyncio.Event()
        self._restore(state or {})
        for rung in ladder.rungs:  # segments offered while connecting wait in their lane
            self.add_rung(rung)

    # -- state ---------------------------------------------------------------------------
    def _restore(self, state: dict[str, Any]) -> None:
        for rung, data in state.get("playlists", {}).items():
            playlist = MediaPlaylist.from_dict(data)
            if playlist.ended or playlist.target_duration != self.settings.target_duration:
                continue  # a finished VOD or another target duration: a new playlist
            playlist.window = self.settings.window
            playlist.url_prefix = self.settings.url_prefix
            self.playlists[rung] = playlist
            self.published_variants.add(rung)
        if "retention" in state:
            self.retention = Retention.from_dict(state["retention"])

    def snapshot(self) -> dict[str, Any]:
        # Entries that left a playlist not yet republished still need deleting later.
        retention = Retention.from_dict(self.retention.to_dict())
        now = time.time()
        for removed in self._removed.values():
            for entry, window in removed:
                retention.schedule([entry], window, now)
        return {"playlists": {r: p.to_dict() for r, p in self.playlists.items()},
                "retention": retention.to_dict()}

    def last_seq(self) -> int:
        return max((p.entries[-1].seq for p in self.playlists.values() if p.entries),
                   default=-1)

    # -- rungs ---------------------------------------------------------------------------
    def add_rung(self, rung: str) -> None:
        if rung in self.lanes:
            return
        self.lanes[rung] = Lane(self.settings.lane_capacity)
        self._done[rung] = asyncio.Event()
        self.playlists.setdefault(rung, self._new_playlist())
        self._workers[rung] = asyncio.create_task(self._lane_worker(rung),
                                                  name=f"lane {self.name}/{rung}")

    async def remove_rung(self, rung: str) -> None:
        task = self._workers.pop(rung, None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for seg in self.lanes.pop(rung, Lane(0)).items:
            seg.release()
        self._queue_changed()
        self.published_variants.discard(rung)
        self._done.pop(rung, None)
        self._unpublished.discard(rung)
        # Its playlist stays where it is; the master no longer names it.
        await self._maybe_publish_master()

    def set_window(self, window: int) -> None:
        self.settings = PublishSettings(self.settings.target_duration, window,
                                        self.settings.segment_length, self.settings.url_prefix)
        for playlist in self.playlists.values():
            playlist.window = window
        for lane in self.lanes.values():
            lane.capacity = self.settings.lane_capacity

    def _new_playlist(self) -> MediaPlaylist:
        return MediaPlaylist(target_duration=self.settings.target_duration,
                             window=self.settings.window, url_prefix=self.settings.url_prefix)

    # -- intake --------------------------------------------------------------------------
    def offer(self, seg: SegmentFile) -> None:
        """Never blocks: a lagging destination loses its oldest unsent segments instead."""
        lane = self.lanes.get(seg.rung)
        if lane is None:
            seg.release()
            return
        dropped = lane.push(seg)
        for old in dropped:
            old.release()
        if dropped:
            self._count_skipped(len(dropped))
            counts = self._unreported.setdefault(seg.rung, [0, dropped[0].seq, 0])
            counts[0] += len(dropped)
            counts[2] = dropped[-1].seq
            self._report_skips()
        self._queue_changed()

    def _queue_changed(self) -> None:
        """Keep hlsd_upload_queue_depth current: set as segments join and leave lanes."""
        if self.metrics:
            self.metrics.queue_depth(self.name, self.queued)

    def _report_skips(self, force: bool = False) -> None:
        """Log the skips not yet logged, unless a line went out less than
        SKIP_REPORT_EVERY ago (the retention loop calls again every second)."""
        now = time.monotonic()
        if not self._unreported or (now - self._skips_reported_at < SKIP_REPORT_EVERY
                                    and not force):
            return
        self.log.warning("segments skipped: destination too slow",
                         skipped=sum(c[0] for c in self._unreported.values()),
                         rungs={rung: {"skipped": c[0], "first_seq": c[1], "last_seq": c[2]}
                                for rung, c in self._unreported.items()})
        self._unreported.clear()
        self._skips_reported_at = now

    def _count_skipped(self, count: int) -> None:
        self.skipped += count
        if self.metrics:
            self.metrics.skipped(self.name, count)

    def finish_rung(self, rung: str) -> None:
        lane = self.lanes.get(rung)
        if lane is not None:
            lane.finishing = True
            lane.wake()

    async def wait_finished(self, rungs: list[str]) -> None:
        await asyncio.gather(*(self._done[r].wait() for r in rungs if r in self._done))

    @property
    def queued(self) -> int:
        """Segments waiting for this destination, all rungs together."""
        return sum(len(lane.items) for lane in self.lanes.values())

    def idle(self) -> bool:
        """Nothing queued and every stored segment named by a published playlist."""
        return not self._unpublished and all(not lane.items for lane in self.lanes.values())

    # -- work ----------------------------------------------------------------------------
    async def run(self) -> None:
        """Connect (retrying), then serve lanes and retention until cancelled."""
        await self.retry(self.transfer.open, "connect")
        self._opened.set()
        for rung in self.ladder.rungs:
            self.add_rung(rung)
        try:
            await self._retention_loop()
        finally:
            for task in self._workers.values():
                task.cancel()
            await asyncio.gather(*self._workers.values(), return_exceptions=True)
            self._report_skips(force=True)
            for lane in self.lanes.values():
                for seg in lane.items:
                    seg.release()
                lane.items.clear()
            await self.transfer.close()

    async def _lane_worker(self, rung: str) -> None:
        lane = self.lanes[rung]
        playlist = self.playlists[rung]
        last_publish = 0.0
        loop = asyncio.get_running_loop()
        await self._opened.wait()
        while True:
            if not lane.items:
                if lane.finishing and not playlist.ended:
                    playlist.end()
                    await self._publish_variant(rung)
                    self._done[rung].set()
                await lane.wait()
                continue
            seg = lane.items[0]
            started = loop.time()
            try:
                stored = await self.retry(partial(self.transfer.put_segment, seg.path,
                                                  seg.name), "segment",
                                          abort=partial(_gone, lane, seg))
            except asyncio.CancelledError:
                # Stopped mid-upload: the server may keep part of the file under its final
                # name, named by no playlist. Deleted later, by this run or (the schedule is
                # saved with the state) the next one.
                self.retention.schedule([_entry(seg, False)], 0.0, time.time())
                raise
            if not stored and lane.items and lane.items[0] is seg:
                # Aborted because its file vanished from temp_dir: not the destination's
                # fault, so it is skipped like a segment that left the window.
                lane.items.popleft()
                self._queue_changed()
                seg.release()
                self._count_skipped(1)
                self.log.error("segment file missing in temp_dir; skipped", rung=rung,
                               seq=seg.seq, file=str(seg.path))
                continue
            if not stored or not lane.items or lane.items[0] is not seg:
                if stored:  # fell out of the window mid-upload: an orphan, delete later
                    self.retention.schedule([_entry(seg, False)], 0.0, time.time())
                continue
            lane.items.popleft()
            self._queue_changed()
            seg.release()
            if self.metrics:
                self.metrics.upload(self.name, "segment", loop.time() - started)
            before = playlist.duration
            removed = playlist.add(_entry(seg, seg.discontinuity and bool(playlist.entries)))
            self._unpublished.add(rung)
            window = max(before, playlist.duration)
            self._removed.setdefault(rung, []).extend((e, window) for e in removed)
            # Catching up after an outage: publish once the backlog is stored, not per file.
            if not lane.items or loop.time() - last_publish > self.settings.target_duration / 2:
                await self._publish_variant(rung)
                last_publish = loop.time()

    async def _publish_variant(self, rung: str) -> None:
        playlist = self.playlists[rung]
        data = playlist.render().encode()
        name = self.ladder.variant_name(rung)
        started = asyncio.get_running_loop().time()
        await self.retry(lambda: self.transfer.put_playlist(data, name), "playlist")
        self._unpublished.discard(rung)  # only this rung's lane worker adds to it
        if self.metrics:
            self.metrics.upload(self.name, "playlist",
                                asyncio.get_running_loop().time() - started)
        self.published_variants.add(rung)
        now = time.time()
        for entry, window in self._removed.pop(rung, []):
            # Clients may hold the previous playlist for its whole duration (§6.2.2).
            self.retention.schedule([entry], window, now)
        await self._maybe_publish_master()

    async def _maybe_publish_master(self) -> None:
        async with self._master_lock:
            if not self.ladder.rungs or not set(self.ladder.rungs) <= self.published_variants:
                return
            text = self.ladder.master_text()
            if text is None or text == self._master_text:
                return
            data = text.encode()
            await self.retry(lambda: self.transfer.put_playlist(data, self.ladder.master_name),
                             "master playlist")
            self._master_text = text

    async def _retention_loop(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            self._report_skips()
            due = self.retention.due(time.time())
            for start in range(0, len(due), DELETE_BATCH):
                batch = due[start:start + DELETE_BATCH]
                try:
                    await self.transfer.delete(batch)
                except TransferError as exc:
                    # Once per failing streak: retries of a down destination fail alike.
                    report = self.log.debug if self._deletes_failing else self.log.warning
                    report("delete failed; will retry", error=str(exc), count=len(batch))
                    self._deletes_failing = True
                    retry_at = time.time() + 5.0
                    self.retention.schedule(
                        [Entry(seq=0, name=n, duration=0.0) for n in batch], 0.0, retry_at)
                else:
                    self._deletes_failing = False


def _gone(lane: Lane, seg: SegmentFile) -> bool:
    """The upload is no longer wanted: the segment left the window, or its file vanished."""
    return seg not in lane or not seg.path.exists()


def _entry(seg: SegmentFile, discontinuity: bool) -> Entry:
    return Entry(seq=seg.seq, name=seg.name, duration=seg.duration,
                 discontinuity=discontinuity, program_date_time=seg.program_date_time,
                 independent=seg.independent)
