"""Deleting what left a destination's playlists, once RFC 8216 §6.2.2 allows it."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable

import structlog

from hlsd.media.playlist import Entry
from hlsd.media.retention import Retention
from hlsd.publish.transfer.base import Transfer, TransferError

log = structlog.get_logger()

DELETE_BATCH = 1000
DELETE_RETRY = 5.0  # seconds before a failed delete is tried again
IDLE_CHECK = 60.0  # seconds between looks when nothing is scheduled (a bound, not a poll)


class Expiry:
    """One destination's deletions: scheduled with their grace time, deleted in batches
    when due (woken by each new schedule, so nothing polls)."""

    def __init__(self, transfer: Transfer, retention: Retention | None = None) -> None:
        self.transfer = transfer
        self.retention = retention or Retention()
        self._changed = asyncio.Event()
        self._failing = False
        self.log = log.bind(destination=transfer.name)

    def schedule(self, removed: Iterable[Entry], playlist_duration: float,
                 now: float | None = None) -> None:
        """`removed` left a playlist; `playlist_duration` (sum of EXTINF) is the longest
        playlist that listed them. The grace runs from `now`: call once the playlist
        without them is published, as clients could fetch the old one until then."""
        self.retention.schedule(removed, playlist_duration, time.time() if now is None else now)
        self._changed.set()

    def cancel(self, name: str) -> None:
        """`name` is needed again: forget its pending deletion."""
        self.retention.cancel(name)

    async def run(self) -> None:
        while True:
            due = self.retention.due(time.time())
            for start in range(0, len(due), DELETE_BATCH):
                await self._delete(due[start:start + DELETE_BATCH])
            when = self.retention.next_due()
            wait = IDLE_CHECK if when is None else max(0.0, when - time.time())
            self._changed.clear()
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation
            # that arrives as the event is set, and the task would never end.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(wait, IDLE_CHECK)):
                    await self._changed.wait()

    async def _delete(self, batch: list[str]) -> None:
        try:
            await self.transfer.delete(batch)
        except TransferError as exc:
            # Once per failing streak: the retries of a down destination fail alike.
            report = self.log.debug if self._failing else self.log.warning
            report("delete failed; will retry", error=str(exc), count=len(batch))
            self._failing = True
            self.retention.schedule([Entry(seq=0, name=n, duration=0.0) for n in batch], 0.0,
                                    time.time() + DELETE_RETRY)
        else:
            self._failing = False
