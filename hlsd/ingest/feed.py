"""What the encoders read: a Feed gives each encoder a pipe of MPEG-TS."""

from __future__ import annotations

from typing import Protocol


class Feed(Protocol):
    def subscribe(self, name: str) -> int:
        """A fresh pipe for encoder `name`; returns its read end (the caller's to close)."""

    def expect(self, names: set[str]) -> None:
        """The encoders that will subscribe (the first run waits for them all)."""

    async def run(self) -> None:
        """Read the source for as long as it lasts (a live one: for ever)."""


class LiveFeed(Feed, Protocol):
    """A feed that switches sources (hlsd.ingest.stage.Ingest)."""

    @property
    def switches(self) -> int:
        """How often the source changed; an encoder run that saw it change was ended by it."""

    def switched_away(self, name: str) -> bool:
        """A switch ended encoder `name`'s pipe: it is to start again at once, on the
        new source (until it subscribes again)."""

    def on_air_since(self) -> float | None:
        """Monotonic time the current source went on air; None while nothing is."""

    def marks_splices(self, name: str) -> bool:
        """Encoder `name`, starting now, is to key the SCTE-35 splice frames marked in
        the source on air (hlsd.media.ptsmark). Asked at each start: one started before
        that was known is started again if it turns out otherwise before it was fed."""
