"""Where the encode stage reports: the RungSink (the publish stage's intake implements it)."""

from __future__ import annotations

from typing import Protocol

from hlsd.encode.events import Event

__all__ = ["RungSink"]


class RungSink(Protocol):
    """Where the rung set reports."""

    async def event(self, rung: str, event: Event) -> None:
        """A segmenter's event (stream parameters, a finished segment, the end)."""

    def rung_started(self, rung: str) -> None:
        """`rung` is (again) being encoded: its segments will follow."""

    def rung_finished(self, rung: str) -> None:
        """A finite input was segmented to its end for `rung`: no segment will follow."""

    def encoder_restarted(self, rung: str, failed: bool = True) -> None:
        """The encoder writing `rung` is being restarted: it failed, or (failed=False) it
        starts again on the input the ingest stage switched to."""
