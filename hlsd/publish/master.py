"""The master playlist at one destination, and with pathways the steering manifest beside it
(hlsd.media.steering): each stored when its text changes, the manifest before the master that
names it, and the master only once every variant playlist it names is stored."""

from __future__ import annotations

import asyncio
from functools import partial

from hlsd.media.ladder import Ladder
from hlsd.publish.retry import Retrier
from hlsd.publish.transfer.base import Transfer


class MasterFiles:
    """What a destination stores of the ladder as a whole."""

    def __init__(self, transfer: Transfer, retry: Retrier, ladder: Ladder) -> None:
        self._transfer = transfer
        self._retry = retry
        self._ladder = ladder
        self._lock = asyncio.Lock()
        self._stored: dict[str, str] = {}  # name → the text stored under it here

    @property
    def master_text(self) -> str | None:
        """The master as stored here last (None: not yet)."""
        return self._stored.get(self._ladder.master_name)

    async def publish(self, variants: set[str], iframes: set[str]) -> None:
        """`variants`: the rungs whose variant playlist is stored here; `iframes`: those
        whose I-frame playlist is."""
        async with self._lock:
            rungs = set(self._ladder.rungs)
            if not rungs or not rungs <= variants:
                return
            text = self._ladder.master_text(iframes)
            if text is None:
                return
            manifest = self._ladder.steering_text()
            if manifest is not None:
                await self._put(self._ladder.steering_name, manifest, "steering manifest")
            await self._put(self._ladder.master_name, text, "master playlist")

    async def _put(self, name: str, text: str, what: str) -> None:
        if self._stored.get(name) == text:
            return
        await self._retry(partial(self._transfer.put_playlist, text.encode(), name), what)
        self._stored[name] = text
