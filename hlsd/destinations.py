"""The daemon's destinations as one set: each runs in its own task; a reload adds,
removes or re-creates them without touching the others."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from typing import Any

import structlog

from hlsd import config as cfg
from hlsd import transfer
from hlsd.ladder import Ladder
from hlsd.metrics import Metrics
from hlsd.publisher import Destination, PublishSettings
from hlsd.reload import ReloadPlan

log = structlog.get_logger()


class Destinations:
    def __init__(self, ladder: Ladder, metrics: Metrics, target_duration: int) -> None:
        self.ladder = ladder
        self.metrics = metrics
        self.target_duration = target_duration
        self.by_name: dict[str, Destination] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._tg: asyncio.TaskGroup | None = None

    def __iter__(self) -> Iterator[Destination]:
        return iter(list(self.by_name.values()))

    def __len__(self) -> int:
        return len(self.by_name)

    def names(self) -> list[str]:
        return list(self.by_name)

    def add(self, profile: cfg.TransferProfile, config: cfg.Config,
            state: dict[str, Any] | None) -> Destination:
        settings = PublishSettings(self.target_duration, config.index_segment_count,
                                   config.segment_length, config.url_prefix)
        dest = Destination(transfer.create(profile), profile.concurrency, settings,
                           self.ladder, self.metrics, state)
        self.by_name[profile.name] = dest
        if self._tg is not None:
            self._run(dest)
        return dest

    def start(self, tg: asyncio.TaskGroup) -> None:
        """Run every destination (and those added later) inside the daemon's TaskGroup."""
        self._tg = tg
        for dest in self.by_name.values():
            self._run(dest)

    def _run(self, dest: Destination) -> None:
        assert self._tg is not None
        self._tasks[dest.name] = self._tg.create_task(dest.run(),
                                                      name=f"destination {dest.name}")

    async def remove(self, name: str) -> None:
        self.by_name.pop(name)
        self.metrics.forget_destination(name)
        task = self._tasks.pop(name, None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def replace(self, profile: cfg.TransferProfile, config: cfg.Config,
                      finished: set[str]) -> None:
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
        dest = self.add(profile, config, old.snapshot())
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

    async def apply(self, plan: ReloadPlan, config: cfg.Config, finished: set[str]) -> None:
        """Start added destinations, stop removed ones, re-create changed ones where they
        were; the others are not touched (a new window is set in place)."""
        profiles = {t.name: t for t in config.transfer_profiles}
        for name in plan.removed_destinations:
            await self.remove(name)
            log.info("destination removed", destination=name)
        for name in plan.added_destinations:
            self.add(profiles[name], config, None)
            log.info("destination added", destination=name)
        for name in plan.replaced_destinations:
            await self.replace(profiles[name], config, finished)
            log.info("destination restarted with new settings", destination=name)
        if plan.window_changed:
            for dest in self:
                dest.set_window(config.index_segment_count)

    async def drain(self, grace: float) -> None:
        """On a stop: give each destination up to `grace` seconds to publish what is
        queued. One that is down cannot drain, so the stop does not wait for it."""
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and not all(d.idle() or d.retry.down for d in self):
            await asyncio.sleep(0.1)
        for dest in self:
            if not dest.idle():
                log.warning("destination still busy at shutdown; its queue is dropped",
                            destination=dest.name, down=dest.retry.down)

    def snapshot(self) -> dict[str, Any]:
        return {name: dest.snapshot() for name, dest in self.by_name.items()}
