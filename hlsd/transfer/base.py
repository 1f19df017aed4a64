"""The one Protocol every destination backend implements.

Shared logic (queues, retries, playlists, retention) lives in hlsd.uploader and
hlsd.publisher and never imports a backend; backends never see playlists as models.
Names passed in are relative object names such as ``live_720p-00017.ts`` or
``live.m3u8`` and have already been checked not to escape the destination.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

PLAYLIST_CONTENT_TYPE = "application/vnd.apple.mpegurl"
SEGMENT_CONTENT_TYPE = "video/mp2t"


class TransferError(Exception):
    """A destination operation failed; the uploader retries it with backoff.

    The message must never contain a secret.
    """


class Transfer(Protocol):
    """A place segments and playlists are published to."""

    name: str  # the transfer profile's name, used in logs and metrics

    async def open(self) -> None:
        """Connect (or check the directory). Raises TransferError."""

    async def put_segment(self, local: Path, name: str) -> None:
        """Store a finished segment file under `name`. Idempotent; raises TransferError."""

    async def put_playlist(self, data: bytes, name: str) -> None:
        """Replace playlist `name` atomically as a client sees it. Raises TransferError."""

    async def delete(self, names: Sequence[str]) -> None:
        """Remove objects; a missing one is not an error. Raises TransferError."""

    async def close(self) -> None:
        """Release connections; never raises."""
