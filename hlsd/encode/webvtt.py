"""WebVTT cues read from a stream and cut into HLS subtitle segments (RFC 8216 §3.5). Pure:
for subtitles what hlsd-segmenter is for MPEG-TS (and events.py for its output).

A segment holds every cue that overlaps its span, so a cue crossing a boundary is in both
(players drop the repeat: same times, same text). Cue times stay the subtitle encoder's
own (LOCAL); each segment's X-TIMESTAMP-MAP says which MPEG-TS timestamp the encoder's
time zero has in the video, so players place the cues on the video's clock.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

TICKS = 90_000  # MPEG-TS timestamps per second
WRAP = 1 << 33
_TIME = r"(?:(\d+):)?(\d{2}):(\d{2})\.(\d{3})"
_TIMING = re.compile(rf"^{_TIME}\s+-->\s+{_TIME}(.*)$")


class WebVttError(ValueError):
    """Text that is not WebVTT."""


@dataclass(frozen=True)
class Cue:
    start: float  # seconds on the encoder's clock (LOCAL)
    end: float
    text: str  # payload lines, without the blank line that ends the cue
    settings: str = ""  # what follows the timing on its line (position, align...)
    identifier: str = ""


def _seconds(h: str | None, m: str, s: str, ms: str) -> float:
    return int(h or 0) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000


def timestamp(seconds: float) -> str:
    """A WebVTT timestamp, hours always written."""
    millis = max(0, round(seconds * 1000))
    h, rest = divmod(millis, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


class CueReader:
    """Cues from WebVTT text fed in pieces as they arrive; a cue is complete at the blank
    line after it. Header, NOTE, STYLE and REGION blocks are skipped."""

    def __init__(self) -> None:
        self._pending = ""
        self._header = True

    def feed(self, text: str) -> list[Cue]:
        self._pending += text.replace("\r\n", "\n").replace("\r", "\n")
        blocks = self._pending.split("\n\n")
        self._pending = blocks.pop()
        return [c for c in map(self._block, blocks) if c is not None]

    def close(self) -> list[Cue]:
        """The end of the stream completes the last block."""
        block, self._pending = self._pending, ""
        cue = self._block(block)
        return [cue] if cue is not None else []

    def _block(self, block: str) -> Cue | None:
        lines = block.strip("\n").split("\n")
        if not lines or not lines[0].strip():
            return None
        if self._header:
            self._header = False
            if not lines[0].lstrip("\ufeff").startswith("WEBVTT"):
                raise WebVttError(f"no WEBVTT header: {lines[0]!r:.80}")
            return None
        ident = ""
        if "-->" not in lines[0]:
            ident, lines = lines[0], lines[1:]
        timing = _TIMING.match(lines[0].strip()) if lines else None
        if timing is None:
            return None  # NOTE, STYLE, REGION, or a broken cue: nothing to show
        g = timing.groups()
        return Cue(_seconds(*g[0:4]), _seconds(*g[4:8]), "\n".join(lines[1:]),
                   g[8].strip(), ident)


def overlapping(cues: Iterable[Cue], start: float, end: float) -> list[Cue]:
    """The cues shown at some time in [start, end)."""
    return [c for c in cues if c.start < end and c.end > start]


def render_segment(cues: Iterable[Cue], mpegts_zero: int) -> str:
    """One subtitle segment: LOCAL 0 is MPEG-TS `mpegts_zero` (mod 2^33)."""
    lines = ["WEBVTT", f"X-TIMESTAMP-MAP=MPEGTS:{mpegts_zero % WRAP},LOCAL:00:00:00.000", ""]
    for cue in cues:
        if cue.identifier:
            lines.append(cue.identifier)
        timing = f"{timestamp(cue.start)} --> {timestamp(cue.end)}"
        lines += [f"{timing} {cue.settings}".rstrip(), cue.text, ""]
    return "\n".join(lines) + "\n"


def parse_segment(text: str) -> tuple[int, list[Cue]]:
    """(the MPEG-TS timestamp of LOCAL 0, the cues) of a segment with X-TIMESTAMP-MAP."""
    head = re.search(r"X-TIMESTAMP-MAP=MPEGTS:(\d+),LOCAL:" + _TIME, text)
    if head is None:
        raise WebVttError("no X-TIMESTAMP-MAP")
    local = _seconds(*head.groups()[1:5])
    return int(head[1]) - round(local * TICKS), list(cues_in(text))


def cues_in(text: str) -> Iterator[Cue]:
    """Every cue of a complete WebVTT text."""
    reader = CueReader()
    yield from reader.feed(text)
    yield from reader.close()
