"""What `?start=T[&end=T]` asks the origin for: T as ISO 8601, epoch seconds or `now-N`,
resolved against the clock passed in. Pure."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote

__all__ = ["Span", "SpanError", "master_for_span", "parse_span", "parse_time"]

RELATIVE = re.compile(r"^now(?:-(\d+(?:\.\d+)?))?$")
EPOCH = re.compile(r"^\d+(?:\.\d+)?$")
MEDIA_URI = re.compile(r'(URI=")([^"]*)(")')


class SpanError(ValueError):
    """The query is not a span hlsd can answer (a 400 with this message)."""


@dataclass(frozen=True)
class Span:
    start: float  # epoch seconds
    end: float | None  # None: open, to the live edge

    def query(self) -> str:
        """The same span as absolute epoch seconds, for the URIs a master names: every
        variant of one player session then starts at the same instant."""
        text = f"start={self.start:.3f}"
        return text if self.end is None else f"{text}&end={self.end:.3f}"


def parse_time(text: str, now: float) -> float:
    """T → epoch seconds; raises SpanError."""
    text = text.strip()
    if match := RELATIVE.match(text):
        return now - float(match[1] or 0)
    if EPOCH.match(text):
        value = float(text)
    else:
        try:
            moment = datetime.fromisoformat(text.replace(" ", "+"))  # '+' arrives as ' '
        except ValueError:
            raise SpanError(f"{quote(text)!s} is no time: ISO 8601 (2026-01-31T10:00:00Z), "
                            "epoch seconds or now-N") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)  # a time without offset is UTC
        value = moment.timestamp()
    if not math.isfinite(value):
        raise SpanError("the time is not finite")
    return value


def parse_span(start: str, end: str | None, now: float) -> Span:
    """The span of a `start` (and `end`) query; raises SpanError."""
    first = parse_time(start, now)
    last = None if end is None else parse_time(end, now)
    if last is not None and last <= first:
        raise SpanError("end must be after start")
    if first > now:
        raise SpanError("start is in the future")
    return Span(first, last)


def master_for_span(text: str, span: Span) -> str:
    """The master with the span's query on every variant and rendition URI (I-frame
    playlists stay live: the index has no byte ranges)."""
    query = span.query()

    def with_query(uri: str) -> str:
        return f"{uri}{'&' if '?' in uri else '?'}{query}"

    lines = []
    for line in text.splitlines():
        if line and not line.startswith("#"):
            line = with_query(line)
        elif line.startswith("#EXT-X-MEDIA:"):
            line = MEDIA_URI.sub(lambda m: m[1] + with_query(m[2]) + m[3], line)
        lines.append(line)
    return "\n".join(lines) + "\n"
