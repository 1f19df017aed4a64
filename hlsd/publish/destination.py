"""One destination's playlist progression: segment stored → variant playlist → master.

A playlist published here never names a segment not already stored here; segments that
leave a playlist are deleted only after the RFC 8216 §6.2.2 grace time (hlsd.publish.expiry).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import replace
from functools import partial

import structlog

from hlsd.media.iframes import has_iframes, render_iframes
from hlsd.media.ladder import Ladder
from hlsd.media.playlist import MediaPlaylist, PlaylistError
from hlsd.publish.expiry import Expiry
from hlsd.publish.lane import Lane
from hlsd.publish.listing import Listing, entry_of
from hlsd.publish.master import MasterFiles
from hlsd.publish.metrics import DestinationMetrics
from hlsd.publish.retry import Retrier
from hlsd.publish.segment import SegmentFile
from hlsd.publish.settings import PublishSettings
from hlsd.publish.skips import SkipReport
from hlsd.publish.state import DestinationState
from hlsd.publish.transfer.base import Transfer

log = structlog.get_logger()


class Destination:
    """One transfer profile's lanes (one per rung, stored in order), playlists, master."""

    def __init__(self, transfer: Transfer, concurrency: int, settings: PublishSettings,
                 ladder: Ladder, metrics: DestinationMetrics | None = None,
                 state: DestinationState | None = None,
                 after: asyncio.Event | None = None) -> None:
        self.transfer = transfer
        self._after = after  # the instance this one replaces (a reload): stopped first
        self.stopped = asyncio.Event()
        self.name = transfer.name
        self.settings = settings
        self.ladder = ladder
        self.metrics = metrics
        self.log = log.bind(destination=self.name)
        # Probed at least every two target durations when down: caught up soon after.
        self.retry = Retrier(self.name, concurrency,
                             on_failure=partial(metrics.upload_failure, self.name)
                             if metrics else None,
                             cap=min(10.0, max(2.0, 2.0 * settings.target_duration)))
        self.lanes: dict[str, Lane] = {}
        state = state or DestinationState()
        self.listing = Listing(settings, state)
        self.expiry = Expiry(transfer, state.retention)
        self.skipped = 0
        self._skips = SkipReport(self.log)
        self.master = MasterFiles(transfer, self.retry, ladder)
        self._tg: asyncio.TaskGroup | None = None  # while running: the workers' group
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._done: dict[str, asyncio.Event] = {}
        for rung in ladder.rungs:  # segments offered while connecting wait in their lane
            self.add_rung(rung)

    # -- state ---------------------------------------------------------------------------
    @property
    def playlists(self) -> dict[str, MediaPlaylist]:
        return self.listing.playlists

    def snapshot(self) -> DestinationState:
        return self.listing.snapshot(self.expiry.retention)

    def last_seq(self) -> int:
        return self.listing.last_seq()

    # -- rungs ---------------------------------------------------------------------------
    def add_rung(self, rung: str) -> None:
        if rung in self.lanes:
            return
        self.lanes[rung] = Lane(self.settings.lane_capacity)
        self._done[rung] = asyncio.Event()
        self.listing.add_rung(rung)
        if self._tg is not None:
            self._start_worker(rung)

    def _start_worker(self, rung: str) -> None:
        assert self._tg is not None
        self._workers[rung] = self._tg.create_task(self._lane_worker(rung),
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
        self._done.pop(rung, None)
        self.listing.remove_rung(rung)
        await self._maybe_publish_master()

    def set_window(self, window: int) -> None:
        self.settings = replace(self.settings, window=window)
        self.listing.set_window(window)
        for lane in self.lanes.values():
            lane.capacity = self.settings.lane_capacity

    def set_dvr_window(self, window: float) -> None:
        self.settings = replace(self.settings, dvr_window=window)
        self.listing.set_dvr_window(window)

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
        if skipped := [d.seq for d in dropped if d is not lane.uploading]:  # its worker counts
            self._count_skipped(len(skipped))
            self._skips.add(seg.rung, skipped)
        self._queue_changed()

    def _queue_changed(self) -> None:
        """Keep hlsd_upload_queue_depth current: set as segments join and leave lanes."""
        if self.metrics:
            self.metrics.queue_depth(self.name, self.queued)

    def _count_skipped(self, count: int) -> None:
        self.skipped += count
        if self.metrics:
            self.metrics.skipped(self.name, count)

    def finish_rung(self, rung: str) -> None:
        if (lane := self.lanes.get(rung)) is not None:
            lane.finishing = True
            lane.wake()

    async def wait_finished(self, rungs: list[str]) -> None:
        await asyncio.gather(*(self._done[r].wait() for r in rungs if r in self._done))

    @property
    def queued(self) -> int:  # segments waiting here, all rungs together
        return sum(len(lane.items) for lane in self.lanes.values())

    def idle(self) -> bool:
        """Nothing queued and every stored segment named by a published playlist."""
        return not self.listing.unpublished and not self.queued

    # -- work ----------------------------------------------------------------------------
    async def run(self) -> None:
        """Once the instance replaced has stopped: connect, serve until cancelled, stop."""
        try:
            if self._after is not None:
                await self._after.wait()
            await self.retry(self.transfer.open, "connect")
            try:
                async with asyncio.TaskGroup() as tg:
                    self._tg = tg
                    for rung in self.ladder.rungs:
                        self.add_rung(rung)
                    for rung in self.lanes:
                        self._start_worker(rung)
                    tg.create_task(self.expiry.run(), name=f"expiry {self.name}")
                    tg.create_task(self._skips.run(), name=f"skips {self.name}")
            finally:
                self._tg = None
                self._skips.flush(force=True)
                for lane in self.lanes.values():
                    for seg in lane.items:
                        seg.release()
                    lane.items.clear()
                await self.transfer.close()
        finally:
            self.stopped.set()

    async def _lane_worker(self, rung: str) -> None:
        lane = self.lanes[rung]
        last_publish = 0.0
        loop = asyncio.get_running_loop()
        while True:
            if not lane.items:
                playlist = self.playlists[rung]
                if lane.finishing and not playlist.ended:
                    playlist.end()
                    await self._publish_variant(rung)
                    self._done[rung].set()
                await lane.wait()
                continue
            seg = lane.uploading = lane.items[0]
            started = loop.time()
            try:  # an EXT-X-GAP entry has no file: nothing to store, listed in its turn
                stored = seg.gap or (await self._store_init(lane, seg) and await self.retry(
                    partial(self.transfer.put_segment, seg.path, seg.name), "segment",
                    abort=partial(lane.abandoned, seg)))
            except asyncio.CancelledError:
                # Stopped mid-upload: a partial file listed nowhere goes later (state saved).
                self.expiry.schedule([entry_of(seg, False)], 0.0)
                raise
            lane.uploading = None
            if not stored and lane.items and lane.items[0] is seg:
                # Its file vanished from temp_dir: skipped, not the destination's fault.
                self._drop_head(lane, seg, "segment file missing in temp_dir; skipped")
                continue
            if not stored or not lane.items or lane.items[0] is not seg:
                # Fell out of the window mid-upload. What got stored is listed anyway (the
                # gap before it marked) unless something newer is: a destination a little
                # slower than real time would otherwise never publish again.
                if stored and seg.seq > self.listing.last_seq_of(rung):
                    if await self._list_keyed(seg):  # else counted and deleted by _list
                        await self._publish_variant(rung)
                        last_publish = loop.time()
                    continue
                if stored:  # an orphan: deleted later
                    self.expiry.schedule([entry_of(seg, False)], 0.0)
                self._count_skipped(1)  # not counted when it left the lane
                self._skips.add(rung, [seg.seq])
                continue
            lane.items.popleft()
            self._queue_changed()
            if self.metrics and not seg.gap:
                self.metrics.upload(self.name, "segment", loop.time() - started)
            listed = await self._list_keyed(seg)
            seg.release()
            if not listed:
                continue
            # Catching up after an outage: publish once the backlog is stored, not per file.
            if not lane.items or loop.time() - last_publish > self.settings.target_duration / 2:
                await self._publish_variant(rung)
                last_publish = loop.time()

    async def _store_init(self, lane: Lane, seg: SegmentFile) -> bool:
        """The init segment `seg` needs, stored here before it (once per name)."""
        init = seg.init
        if init is None or init.name in self.listing.inits:
            return True
        self.expiry.cancel(init.name)  # needed again: a deletion pending must not happen
        if not await self.retry(partial(self.transfer.put_segment, init.path, init.name),
                                "init segment", abort=partial(lane.abandoned, seg)):
            return False
        self.listing.inits.add(init.name)
        return True

    def _drop_head(self, lane: Lane, seg: SegmentFile, why: str) -> None:
        lane.items.popleft()
        self._queue_changed()
        seg.release()
        self._count_skipped(1)
        self.log.error(why, rung=seg.rung, seq=seg.seq, file=str(seg.path))

    async def _list_keyed(self, seg: SegmentFile) -> bool:
        if seg.key is not None:  # no playlist names a segment before its key is out
            await seg.key.key.published.wait()
        return self._list(seg)

    def _list(self, seg: SegmentFile) -> bool:
        """List a stored segment; False (logged, counted, deleted later) if it cannot be."""
        try:
            self.listing.add(seg)
        except PlaylistError as exc:
            self._count_skipped(1)
            self.log.error("segment cannot be listed; skipped", rung=seg.rung, seq=seg.seq,
                           error=str(exc))
            self.expiry.schedule([entry_of(seg, False)], 0.0)
            return False
        return True

    async def _publish_variant(self, rung: str) -> None:
        data = self.playlists[rung].render().encode()
        name = self.ladder.variant_name(rung)
        loop = asyncio.get_running_loop()
        started = loop.time()
        await self.retry(partial(self.transfer.put_playlist, data, name), "playlist")
        if self.metrics:
            self.metrics.upload(self.name, "playlist", loop.time() - started)
        playlist = self.playlists[rung]
        if self.settings.iframes and has_iframes(playlist):  # after its segments, before
            iframes = render_iframes(playlist).encode()       # the master names it
            await self.retry(partial(self.transfer.put_playlist, iframes,
                                     self.ladder.iframe_name(rung)), "I-frame playlist")
            self.listing.published_iframes.add(rung)
        for entry, window in self.listing.published(rung):
            # Clients may hold the previous playlist for its whole duration (§6.2.2).
            self.expiry.schedule([entry], window)
        await self._maybe_publish_master()

    async def _maybe_publish_master(self) -> None:
        await self.master.publish(self.listing.published_variants,
                                  self.listing.published_iframes)
