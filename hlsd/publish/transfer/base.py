"""The one Protocol every destination backend implements.

Shared logic (lanes, retries, playlists, expiry) lives in hlsd.publish and never imports
a backend; backends never see playlists as models.
Names passed in are relative object names such as ``live_720p-00017.ts`` or
``live.m3u8`` and have already been checked not to escape the destination.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

PLAYLIST_CONTENT_TYPE = "application/vnd.apple.mpegurl"
SEGMENT_CONTENT_TYPE = "video/mp2t"
# HLS types by extension, wherever an object is stored or served with a Content-Type.
# RFC 8216 §4 names the first two; the rest are fMP4 and sidecar files.
CONTENT_TYPES = {
    ".m3u8": PLAYLIST_CONTENT_TYPE,
    ".ts": SEGMENT_CONTENT_TYPE,
    ".m4s": "video/iso.segment",
    ".mp4": "video/mp4",
    ".aac": "audio/aac",
    ".vtt": "text/vtt",
    ".key": "application/octet-stream",
    ".json": "application/json",  # the steering manifest (RFC 8216bis §7.1)
}
KEY_CACHE_CONTROL = "private, no-store"  # a key is for its players only, never a cache


def cache_control(name: str, playlist: str, segment: str) -> str:
    """Cache-Control by kind: a playlist's `playlist` (the steering manifest's too: it
    changes with the config), a key never cached, else `segment` (segments and init
    segments: a name is never reused with other content)."""
    if name.endswith((".m3u8", ".json")):
        return playlist
    return KEY_CACHE_CONTROL if name.endswith(".key") else segment


def content_type(name: str) -> str | None:
    """The Content-Type of an HLS object by its name; None for other files."""
    dot = name.rfind(".")
    return CONTENT_TYPES.get(name[dot:].lower()) if dot >= 0 else None


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

    async def put_key(self, data: bytes, name: str) -> None:
        """Store an encryption key atomically, readable only by whom must serve it
        (no public cache). Raises TransferError."""

    async def delete(self, names: Sequence[str]) -> None:
        """Remove objects; a missing one is not an error. Raises TransferError."""

    async def close(self) -> None:
        """Release connections; never raises."""
