"""The daemon's destinations as one set: each runs in its own task; a reload adds,
removes or re-creates them without touching the others."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable, Iterator

import structlog

from hlsd import config as cfg
from hlsd.media.ladder import Ladder
from hlsd.publish import transfer
from hlsd.publish.destination import Destination
from hlsd.publish.metrics import DestinationMetrics
from hlsd.publish.recorder import Recorder
from hlsd.publish.segment import SegmentFile
from hlsd.publish.settings import PublishSettings
from hlsd.publish.state import DestinationState

log = structlog.get_logger()


class DestinationSet:
    """Every configured destination, run inside the daemon's TaskGroup once started."""

    def __init__(self, ladder: Ladder, metrics: DestinationMetrics, target_duration: int,
                 states: dict[str, DestinationState] | None = None,
                 recorder: Recorder | None = None, dvr_window: float = 0.0) -> None:
        self.ladder = ladder
        # The running time-shift window (a reload may change it: hlsd.service.reconfigure),
        # and the one at start, which the keys' grace covers.
        self.dvr_window = self.started_dvr_window = dvr_window
        self.recorder = recorder  # `recording:` gets every segment too, kept for good
        self.metrics = metrics
        self.target_duration = target_duration
        self._states = dict(states or {})  # restored state, taken by each first add()
        self.by_name: dict[str, Destination] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._tg: asyncio.TaskGroup | None = None

    def __iter__(self) -> Iterator[Destination]:
        return iter(list(self.by_name.values()))

    def __len__(self) -> int:
        return len(self.by_name)

    def names(self) -> list[str]:
        return list(self.by_name)

    def last_seq(self) -> int:
        """The newest sequence number any destination's playlists list (-1: none)."""
        return max((d.last_seq() for d in self), default=-1)

    def add(self, profile: cfg.TransferProfile, config: cfg.Config,
            state: DestinationState | None = None,
            after: asyncio.Event | None = None) -> Destination:
        settings = PublishSettings(
            self.target_duration, config.index_segment_count, config.segment_length,
            config.url_prefix,
            # Byte ranges point into clear segments: none for whole-segment encryption.
            iframes=config.iframe_playlists and config.encryption is None,
            locked=config.timeline == "locked", dvr_window=self.dvr_window)
        return self.include(Destination(transfer.create(profile), profile.concurrency,
                                        settings, self.ladder, self.metrics,
                                        state or self._states.pop(profile.name, None),
                                        after))

    def include(self, dest: Destination) -> Destination:
        """Make `dest` one of the set (run at once if the set is running)."""
        self.by_name[dest.name] = dest
        if self._tg is not None:
            self._run(dest)
        return dest

    def start(self, tg: asyncio.TaskGroup) -> None:
        """Run every destination (and those added later) inside the daemon's TaskGroup."""
        self._tg = tg
        for dest in self.by_name.values():
            self._run(dest)
        if self.recorder is not None:
            tg.create_task(self.recorder.run(), name=f"recording {self.recorder.name}")

    def _run(self, dest: Destination) -> None:
        assert self._tg is not None
        self._tasks[dest.name] = self._tg.create_task(dest.run(),
                                                      name=f"destination {dest.name}")

    # -- what every destination gets ---------------------------------------------------------
    def offer(self, seg: SegmentFile) -> None:
        if self.recorder is not None:
            self.recorder.offer(seg)  # holds it for itself
        seg.hold(len(self.by_name))
        if not self.by_name and self.recorder is None:
            seg.release()
        for dest in self:
            dest.offer(seg)

    def add_rung(self, rung: str) -> None:
        for dest in self:
            dest.add_rung(rung)

    def finish_rung(self, rung: str) -> None:
        for dest in self:
            dest.finish_rung(rung)

    async def remove_rung(self, rung: str) -> None:
        for dest in self:
            await dest.remove_rung(rung)

    def set_window(self, window: int) -> None:
        for dest in self:
            dest.set_window(window)

    def set_dvr_window(self, window: float) -> None:
        self.dvr_window = window
        for dest in self:
            dest.set_dvr_window(window)

    async def wait_finished(self, rungs: list[str]) -> None:
        await asyncio.gather(*(d.wait_finished(rungs) for d in self))

    # -- reload --------------------------------------------------------------------------------
    async def remove(self, name: str) -> None:
        self.by_name.pop(name)
        self.metrics.forget_destination(name)
        task = self._tasks.pop(name, None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def replace(self, profile: cfg.TransferProfile, config: cfg.Config,
                      finished: Iterable[str]) -> None:
        """New settings for a destination: its playlists continue (same media sequence,
        retention schedule), and what was queued for the old one is handed over."""
        old = self.by_name[profile.name]
        # Taken out of the lanes before cancelling, so the old one does not release them.
        queued = {rung: list(lane.items) for rung, lane in old.lanes.items()}
        for lane in old.lanes.values():
            lane.items.clear()
        old_task = self._tasks.pop(profile.name, None)
        # The new one takes the old one's place before anything is awaited: a segment
        # announced while the old one shuts down is offered to the new one, not lost.
        # It writes only once the old one has stopped (its uploads in flight finished).
        dest = self.add(profile, config, old.snapshot(),
                        old.stopped if old_task is not None else None)
        for rung, items in queued.items():
            dest.add_rung(rung)
            for seg in items:
                dest.offer(seg)
            if rung in finished:  # a finite input's end: ENDLIST once drained
                dest.finish_rung(rung)
        if old_task is not None:
            old_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await old_task

    async def drain(self, grace: float) -> None:
        """On a stop: give each destination up to `grace` seconds to publish what is
        queued. One that is down cannot drain, so the stop does not wait for it."""
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and not all(d.idle() or d.retry.down for d in self):
            await asyncio.sleep(0.1)
        await self._close_recording(deadline)
        for dest in self:
            if not dest.idle():
                log.warning("destination still busy at shutdown; its queue is dropped",
                            destination=dest.name, down=dest.retry.down)

    async def _close_recording(self, deadline: float) -> None:
        """The recording's open parts closed (ENDLIST) once what it was given is stored."""
        recorder = self.recorder
        if recorder is None:
            return
        while time.monotonic() < deadline and not (recorder.idle() or recorder.retry.down):
            await asyncio.sleep(0.1)
        try:
            async with asyncio.timeout(max(0.5, deadline - time.monotonic())):
                await recorder.close()
        except TimeoutError:
            log.warning("recording not closed at shutdown (destination slow or down)",
                        destination=recorder.name)

    def snapshot(self) -> dict[str, DestinationState]:
        return {name: dest.snapshot() for name, dest in self.by_name.items()}
