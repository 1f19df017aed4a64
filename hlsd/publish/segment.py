"""The files a finished segment brings to the destinations (the daemon's own records):
the segment itself, the fMP4 init segment it needs, the AES-128 key it was encrypted with."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from hlsd.media.playlist import KeyTag
from hlsd.publish.keyfile import KeyFile


@dataclass(eq=False)
class InitFile:
    """An fMP4 init segment in temp_dir: kept while a segment that needs it is in flight,
    deleted once a newer one replaced it and nothing holds it any more."""

    path: Path
    _holders: int = field(default=0, repr=False)
    _superseded: bool = field(default=False, repr=False)

    @property
    def name(self) -> str:
        return self.path.name

    def hold(self) -> None:
        self._holders += 1

    def release(self) -> None:
        self._holders -= 1
        self._delete_if_unused()

    def supersede(self) -> None:
        self._superseded = True
        self._delete_if_unused()

    def _delete_if_unused(self) -> None:
        if self._superseded and self._holders <= 0:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)


@dataclass(frozen=True)
class KeyUse:
    """A segment encrypted with `key` and its own `iv` (hex)."""

    key: KeyFile
    iv: str

    @property
    def tag(self) -> KeyTag:
        return KeyTag(self.key.uri, self.iv)


@dataclass(eq=False)
class SegmentFile:
    """One segment file in temp_dir, shared by every destination until all are done with it."""

    rung: str
    seq: int
    path: Path
    duration: float
    nbytes: int
    independent: bool
    discontinuity: bool
    program_date_time: datetime
    pts: int | None = None  # first presentation time, 90 kHz
    keyframes: tuple[tuple[int, int, int], ...] = ()  # (offset, size, pts) for I-frames
    psi: int | None = None  # TS: PAT + PMT bytes at the start (an I-frame's EXT-X-MAP)
    init: InitFile | None = None  # fMP4: stored at a destination before this segment
    key: KeyUse | None = None  # encrypted: its key is published before a playlist names it
    # EXT-X-GAP: the segment its rung could not produce, under the name it would have had;
    # no file: listed in its turn, never stored, never deleted (hlsd.publish.gaps)
    gap: bool = False
    marks: tuple[str, ...] = ()  # ad markers opening or closing here (hlsd.media.breaks)
    _holders: int = field(default=0, repr=False)
    _init_released: bool = field(default=False, repr=False)

    def __post_init__(self) -> None:
        if self.init is not None:
            self.init.hold()

    @property
    def name(self) -> str:
        return self.path.name

    def hold(self, count: int = 1) -> None:
        self._holders += count

    def release(self) -> None:
        """A destination is done (stored or skipped); the last one deletes the local file."""
        self._holders -= 1
        if self._holders <= 0 and not self.gap:  # a gap has no file (its name is no one's)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)
            if self.init is not None and not self._init_released:
                self._init_released = True  # its name stays: a late listing needs it
                self.init.release()
