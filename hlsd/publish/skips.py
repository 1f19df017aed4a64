"""Skipped segments summed up for the log: while a destination keeps losing segments (down,
or too slow), one line per SKIP_REPORT_EVERY carries the count per rung, not one line per
segment and rung."""

from __future__ import annotations

import asyncio
import time
from typing import Any

SKIP_REPORT_EVERY = 30.0


class SkipReport:
    def __init__(self, log: Any, every: float = SKIP_REPORT_EVERY) -> None:
        self._log = log
        self.every = every
        self._unreported: dict[str, list[int]] = {}  # rung -> [count, first seq, last seq]
        self._reported_at = -every  # monotonic time of the last line

    def add(self, rung: str, seqs: list[int]) -> None:
        counts = self._unreported.setdefault(rung, [0, seqs[0], seqs[0]])
        counts[0] += len(seqs)
        counts[2] = seqs[-1]
        self.flush()

    def flush(self, force: bool = False) -> None:
        """Log what was not logged yet, unless a line went out less than `every` ago."""
        now = time.monotonic()
        if not self._unreported or (now - self._reported_at < self.every and not force):
            return
        self._log.warning("segments skipped: destination too slow",
                          skipped=sum(c[0] for c in self._unreported.values()),
                          rungs={rung: {"skipped": c[0], "first_seq": c[1], "last_seq": c[2]}
                                 for rung, c in self._unreported.items()})
        self._unreported.clear()
        self._reported_at = now

    async def run(self) -> None:
        """Flush now and then, so the last skips of a streak are logged too."""
        while True:
            await asyncio.sleep(self.every)
            self.flush()
