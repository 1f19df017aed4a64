"""One AES-128 key of the stream: its bytes (never printed), its file and its URI."""

from __future__ import annotations

import asyncio
from pathlib import Path


class KeyFile:
    """A key period's key. `published` is set once every key destination stores it: no
    playlist may name a segment encrypted with it before that."""

    __slots__ = ("_material", "index", "last_seq", "name", "path", "published", "uri")

    def __init__(self, index: int, name: str, path: Path, uri: str, material: bytes) -> None:
        self.index = index
        self.name = name
        self.path = path  # in temp_dir, mode 0600
        self.uri = uri  # as #EXT-X-KEY names it
        self._material = material
        self.last_seq = -1  # the newest segment encrypted with it
        self.published = asyncio.Event()

    def material(self) -> bytes:
        """The 16 key bytes: for the cipher and the key destinations, nothing else."""
        return self._material

    def __repr__(self) -> str:
        return f"KeyFile(index={self.index}, name={self.name!r})"
