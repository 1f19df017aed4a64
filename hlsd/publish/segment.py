"""A finished segment on its way to the destinations (the daemon's own record of it)."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path


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
    _holders: int = field(default=0, repr=False)

    @property
    def name(self) -> str:
        return self.path.name

    def hold(self, count: int = 1) -> None:
        self._holders += count

    def release(self) -> None:
        """A destination is done (stored or skipped); the last one deletes the local file."""
        self._holders -= 1
        if self._holders <= 0:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)
