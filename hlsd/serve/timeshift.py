"""The origin's time-shift answers: `<variant>.m3u8?start=T[&end=T]` rendered from the
served destination's index (hlsd.media.dvr), and the master with the span carried to its
variants (as absolute times, so every rung of one session starts at the same instant).

A start older than the window is clamped to the oldest segment kept; a span with no
segment (all of it older than the window, or the time-shift off) is a 404; a query that
is no span, a 400 saying why. An open span offers delta updates (`_HLS_skip=YES`); it
offers no blocking reload, so `_HLS_msn`/`_HLS_part` are not asked for and are ignored.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from pathlib import Path

from hlsd.media.ladder import Ladder
from hlsd.media.timeshift import Span, SpanError, master_for_span, parse_span
from hlsd.publish.destinations import DestinationSet
from hlsd.publish.listing import Listing

__all__ = ["Refused", "TimeShift"]

OFF = "time-shift is off (dvr_window)\n"


class Refused(Exception):
    """No playlist for that request: `status` (400, 404) and a line saying why."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status
        self.text = text


class TimeShift:
    """`served` names the destination whose files the origin serves (None: none)."""

    def __init__(self, ladder: Ladder, destinations: DestinationSet) -> None:
        self._ladder = ladder
        self._destinations = destinations
        self.served: str | None = None

    def _listing(self) -> Listing | None:
        dest = self._destinations.by_name.get(self.served or "")
        return dest.listing if dest is not None else None

    def handles(self, name: str) -> bool:
        """Whether `name` with a `start` query is this module's: the master or a variant."""
        return name == self._ladder.master_name or any(
            name == self._ladder.variant_name(r) for r in self._ladder.rungs)

    def _rung_of(self, listing: Listing, name: str) -> str | None:
        return next((r for r in listing.dvr if self._ladder.variant_name(r) == name), None)

    async def playlist(self, name: str, query: Mapping[str, str],
                       directory: Path | None) -> str:
        """The playlist `name?query` asks for; raises Refused."""
        try:
            span = parse_span(query.get("start", ""), query.get("end"), time.time())
        except SpanError as exc:
            raise Refused(400, f"{exc}\n") from None
        if name == self._ladder.master_name:
            return await self._master(directory, name, span)
        # a delta update (hlsd.media.dvrdelta); v2 is YES: the index keeps no DATERANGE
        return self._variant(name, span, query.get("_HLS_skip") in ("YES", "v2"))

    async def _master(self, directory: Path | None, name: str, span: Span) -> str:
        listing = self._listing()
        if directory is None or listing is None or not listing.dvr:
            raise Refused(404, OFF)
        try:
            master = await asyncio.to_thread((directory / name).read_text, encoding="utf-8")
        except (OSError, ValueError):
            raise Refused(404, "no master playlist yet\n") from None
        return master_for_span(master, span)

    def _variant(self, name: str, span: Span, skip: bool) -> str:
        listing = self._listing()
        rung = None if listing is None else self._rung_of(listing, name)
        if listing is None or rung is None:
            raise Refused(404, OFF)
        text = listing.dvr[rung].render(span.start, span.end, listing.settings.target_duration,
                                        listing.settings.url_prefix, skip)
        if text is None:
            raise Refused(404, "no segment kept in that span\n")
        return text
