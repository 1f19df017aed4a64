"""What a group supervisor needs from the rung set that runs it (hlsd.encode.rungs)."""

from __future__ import annotations

from typing import Protocol

from hlsd.encode.events import Event
from hlsd.encode.specs import Grid


class PipelineHost(Protocol):
    """What a supervisor needs from the rung set that runs it."""

    def start_seq(self) -> int:
        """The number the next segment of a new pipeline run gets."""

    def rejoin_grid(self) -> Grid | None:
        """The grid a restarted pipeline cuts on, or None to start a grid of its own."""

    def switch_seq(self, switch: int, rungs: tuple[str, ...]) -> int:
        """The number the first segment of `rungs`' run for source switch `switch` gets:
        one for every rung restarted on the new source (the same cuts, the same numbers)."""

    async def report(self, rung: str, event: Event) -> None:
        """A segmenter's event, in order."""

    def restarted(self, rung: str, failed: bool = True) -> None:
        """The pipeline writing `rung` is being restarted: it failed, or (failed=False) the
        ingest stage switched the input."""
