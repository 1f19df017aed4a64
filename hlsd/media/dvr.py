"""The time-shift index of one rung: every segment still kept behind the live edge, and
playlists of any span of it (`?start=T&end=T`). Pure: no I/O, no clock.

A 24 h window of 1 s segments is 86,400 entries per rung, so the index is columns (arrays
of numbers, one list of names) rather than objects: a few dozen bytes an entry, a span
found by bisection on the start times, only the requested span rendered, and the state
saved in compressed chunks encoded once (hlsd.media.dvrstate), not one object an entry.
"""

from __future__ import annotations

import bisect
import math
import zlib
from array import array
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from hlsd.media import dvrdelta, dvrstate
from hlsd.media.dvrstate import CHUNK
from hlsd.media.playlist import MAP_VERSION, VERSION, Entry, KeyTag, format_pdt

DISCONTINUITY, GAP, INDEPENDENT = 1, 2, 4
INDEPENDENT_FLAGS = bytes(f for f in range(256) if f & INDEPENDENT)
SPANS_KEPT = 16_000_000  # characters of rendered spans kept (DvrIndex.render)
COMPACT_AT = 4096  # trimmed head entries kept until there are this many (and half the index)


class DvrIndex:
    """Entries in sequence order with their wall-clock start (PROGRAM-DATE-TIME)."""

    def __init__(self) -> None:
        self._head = 0  # entries before it are trimmed (compacted away in batches)
        self._base = 0  # entries compacted away: position + _base numbers an entry for good
        self._chunks: dict[int, dict[str, Any]] = {}  # saved state of full chunks, by number
        self._spans: dict[tuple[int, int, bool, int, str, bool], str] = {}  # oldest first
        # Rendered full chunks: (number, url_prefix, MAP and KEY in force before) -> text,
        # and the MAP and KEY in force after.
        self._rendered: dict[tuple[int, str, str | None, bool], tuple[str, str | None, bool]] = {}
        self.seqs = array("q")
        self.starts = array("d")  # epoch seconds, non-decreasing
        self.durations = array("d")
        # Discontinuity tags that left before each entry: its DISCONTINUITY-SEQUENCE.
        self.disc_before = array("q")
        self.flags = bytearray()
        self.names: list[str] = []
        self.maps: list[str | None] = []
        self.keys: list[KeyTag | None] = []
        self._map_uses: Counter[str] = Counter()
        self._discs = 0  # discontinuity tags among every entry ever added

    def __len__(self) -> int:
        return len(self.seqs) - self._head

    @property
    def oldest(self) -> float | None:
        """Start of the oldest entry kept (epoch seconds)."""
        return self.starts[self._head] if len(self) else None

    @property
    def edge(self) -> float | None:
        """End of the newest entry: the live edge."""
        return self.starts[-1] + self.durations[-1] if len(self) else None

    def add(self, entry: Entry) -> None:
        """Append the entry just listed live (with the discontinuity its playlist gave it)."""
        if len(self) and entry.seq <= self.seqs[-1]:
            return  # listed again after a restart: already here
        start = entry.program_date_time.timestamp() if entry.program_date_time else (
            self.edge or 0.0)
        if len(self):
            start = max(start, self.starts[-1])  # bisection needs starts in order
        self.disc_before.append(self._discs)
        self._discs += entry.discontinuity
        self.seqs.append(entry.seq)
        self.starts.append(start)
        self.durations.append(entry.duration)
        self.flags.append(DISCONTINUITY * entry.discontinuity + GAP * entry.gap
                          + INDEPENDENT * entry.independent)
        self.names.append(entry.name)
        self.maps.append(entry.map_name)
        self.keys.append(entry.key)
        if entry.map_name:
            self._map_uses[entry.map_name] += 1

    def trim(self, window: float, keep_from_seq: int) -> tuple[list[Entry], list[str]]:
        """Forget entries that ended more than `window` seconds before the live edge and are
        not at or after `keep_from_seq` (still in the live playlist); returns them, and the
        init segments none of the remaining entries needs."""
        edge = self.edge
        if edge is None:
            return [], []
        removed: list[Entry] = []
        freed: list[str] = []
        while (len(self) and self.seqs[self._head] < keep_from_seq
               and self.starts[self._head] + self.durations[self._head] < edge - window):
            removed.append(self.entry(self._head))
            name = self.maps[self._head]
            if name:
                self._map_uses[name] -= 1
                if self._map_uses[name] <= 0:
                    del self._map_uses[name]
                    freed.append(name)
            self._head += 1
        oldest = (self._base + self._head) // CHUNK
        for stale in [key for key in self._rendered if key[0] < oldest]:
            del self._rendered[stale]
        if self._head >= COMPACT_AT and self._head * 2 >= len(self.seqs):
            self._compact()
        return removed, freed

    def _compact(self) -> None:
        head, self._head = self._head, 0
        self._base += head
        for column in (self.seqs, self.starts, self.durations, self.disc_before):
            del column[:head]
        del self.flags[:head]
        del self.names[:head]
        del self.maps[:head]
        del self.keys[:head]

    def entry(self, i: int) -> Entry:
        flags = self.flags[i]
        return Entry(seq=self.seqs[i], name=self.names[i], duration=self.durations[i],
                     discontinuity=bool(flags & DISCONTINUITY),
                     program_date_time=datetime.fromtimestamp(self.starts[i], UTC),
                     independent=bool(flags & INDEPENDENT), map_name=self.maps[i],
                     key=self.keys[i], gap=bool(flags & GAP))

    def entries(self) -> Iterator[Entry]:
        return (self.entry(i) for i in range(self._head, len(self.seqs)))

    def span(self, start: float, end: float | None) -> range:
        """Indices of the entries from the one playing at `start` (clamped to the oldest)
        to the last one starting before `end` (None: the live edge)."""
        lo = max(self._head, bisect.bisect_right(self.starts, start, lo=self._head) - 1)
        hi = len(self.seqs) if end is None else bisect.bisect_left(self.starts, end, lo=lo)
        return range(lo, hi)

    def render(self, start: float, end: float | None, target_duration: int,
               url_prefix: str = "", skip: bool = False) -> str | None:
        """The playlist of a span; None when the span holds no entry. Closed
        (#EXT-X-ENDLIST, VOD) once the live edge has passed `end`; open, growing to the live
        edge, otherwise, with #EXT-X-START at its first segment so players begin there, and
        delta updates (`skip`: hlsd.media.dvrdelta)."""
        span = self.span(start, end)
        if not span:
            return None
        edge = self.edge
        ended = end is not None and edge is not None and edge >= end
        # Players of one session ask for the same span every target duration: the same
        # text (the same object, so its hash and a gzip of it can be kept too).
        skipped = 0 if ended else dvrdelta.skippable(self.durations, span, target_duration)
        memo = (self._base + span.start, self._base + span.stop, ended, target_duration,
                url_prefix, skip)
        if (text := self._spans.get(memo)) is None:
            text = self._spans[memo] = self._render(span, ended, target_duration, url_prefix,
                                                    skipped if skip else -1 if skipped else 0)
            kept = sum(map(len, self._spans.values()))
            while kept > SPANS_KEPT and len(self._spans) > 1:  # the newest stays
                kept -= len(self._spans.pop(next(iter(self._spans))))
        return text

    def _render(self, span: range, ended: bool, target_duration: int, url_prefix: str,
                skipped: int) -> str:
        """`skipped`: 0 none offered, -1 offered (CAN-SKIP-UNTIL), N > 0 a delta skipping N."""
        first = span.start  # C-speed scans below: a day-long span's delta stays cheap
        version = VERSION if self.maps[first:span.stop].count(None) == len(span) else MAP_VERSION
        version = dvrdelta.delta_version(version) if skipped > 0 else version
        lines = ["#EXTM3U", f"#EXT-X-VERSION:{version}",
                 f"#EXT-X-TARGETDURATION:{target_duration}",
                 f"#EXT-X-MEDIA-SEQUENCE:{self.seqs[first]}",
                 # The first entry's own tag is left out, so it is counted here: every
                 # entry keeps one discontinuity number, whichever span names it.
                 "#EXT-X-DISCONTINUITY-SEQUENCE:"
                 f"{self.disc_before[first] + (self.flags[first] & DISCONTINUITY)}"]
        lines.append("#EXT-X-PLAYLIST-TYPE:VOD" if ended else
                     "#EXT-X-START:TIME-OFFSET=0,PRECISE=YES")
        if skipped:
            lines.append(dvrdelta.control_line(target_duration))
        if not self.flags[first:span.stop].translate(None, INDEPENDENT_FLAGS):
            lines.append("#EXT-X-INDEPENDENT-SEGMENTS")
        if skipped > 0:  # the MAP in force is named again, a KEY ended again
            listed = first + skipped
            lines += [dvrdelta.skip_line(skipped), self._text(
                listed, span.stop, first, url_prefix, None, self.keys[listed - 1] is not None)[0]]
            return "\n".join(lines) + "\n"
        # Full chunks of entries are rendered once and kept (a day-long span is 86,400
        # entries): their text depends only on the MAP and KEY in force before them.
        current_map: str | None = None
        keyed = False
        i = first
        while i < span.stop:
            k = (self._base + i) // CHUNK
            hi = min((k + 1) * CHUNK - self._base, span.stop)
            if i == first or (self._base + i) % CHUNK or hi != (k + 1) * CHUNK - self._base:
                text, current_map, keyed = self._text(i, hi, first, url_prefix, current_map,
                                                      keyed)
            else:
                key = (k, url_prefix, current_map, keyed)
                cached = self._rendered.get(key)
                if cached is None:
                    cached = self._rendered[key] = self._text(i, hi, first, url_prefix,
                                                              current_map, keyed)
                text, current_map, keyed = cached
            lines.append(text)
            i = hi
        if ended:
            lines.append("#EXT-X-ENDLIST")
        return "\n".join(lines) + "\n"

    def _text(self, lo: int, hi: int, first: int, url_prefix: str, current_map: str | None,
              keyed: bool) -> tuple[str, str | None, bool]:
        """Entries lo..hi as playlist lines, and the MAP and KEY in force after them."""
        lines: list[str] = []
        for i in range(lo, hi):
            flags = self.flags[i]
            if flags & DISCONTINUITY and i != first:
                lines.append("#EXT-X-DISCONTINUITY")
            date = "#EXT-X-PROGRAM-DATE-TIME:" + format_pdt(
                datetime.fromtimestamp(self.starts[i], UTC))
            if flags & GAP:
                lines += [date, "#EXT-X-GAP", f"#EXTINF:{self.durations[i]:.3f},",
                          url_prefix + self.names[i]]
                continue
            name, key = self.maps[i], self.keys[i]
            if name is not None and name != current_map:
                if keyed:
                    lines.append("#EXT-X-KEY:METHOD=NONE")
                    keyed = False
                lines.append(f'#EXT-X-MAP:URI="{url_prefix}{name}"')
                current_map = name
            if key is not None:
                lines.append(key.render())
                keyed = True
            elif keyed:
                lines.append("#EXT-X-KEY:METHOD=NONE")
                keyed = False
            lines += [date, f"#EXTINF:{self.durations[i]:.3f},", url_prefix + self.names[i]]
        return "\n".join(lines), current_map, keyed

    # -- state (hlsd.media.dvrstate) --------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Full chunks are encoded once and kept. It may run in a thread (the daemon saves
        its state so) while entries are added and trimmed: lengths are read once, and a
        compaction meanwhile (positions shifted) means encoding again."""
        while True:
            head, n, base, discs = self._head, len(self.seqs), self._base, self._discs
            first = (base + head) // CHUNK
            chunks, fresh = [], {}
            for k in range(first, -(-(base + n) // CHUNK)):
                lo, hi = max(k * CHUNK - base, head), min((k + 1) * CHUNK - base, n)
                full = lo == k * CHUNK - base and hi == (k + 1) * CHUNK - base
                chunk = self._chunks.get(k) if full else None
                if chunk is None:
                    chunk = dvrstate.encode(self, lo, hi)
                    if full:
                        fresh[k] = chunk
                chunks.append(chunk)
            if self._base == base:
                break
        for stale in [k for k in self._chunks if k < first]:
            del self._chunks[stale]
        self._chunks.update(fresh)
        return {"start": base + head, "chunks": chunks, "discs": discs}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DvrIndex:
        """Raises ValueError for anything to_dict did not write."""
        index = cls()
        try:
            index._base = int(data["start"])
            dvrstate.decode(data["chunks"], index)
            # From the entries themselves where there are some: saved in a thread, the
            # count may be a step ahead of them.
            index._discs = (index.disc_before[-1] + (index.flags[-1] & DISCONTINUITY)
                            if index.seqs else int(data["discs"]))
            position = index._base
            for chunk in data["chunks"]:  # full ones need no encoding again
                if position % CHUNK == 0 and chunk["n"] == CHUNK:
                    index._chunks[position // CHUNK] = chunk
                position += int(chunk["n"])
        except (KeyError, TypeError, ValueError, AttributeError, zlib.error) as exc:
            raise ValueError(f"invalid time-shift index: {exc}") from exc
        if not all(map(math.isfinite, index.starts)) or index._base < 0:
            raise ValueError("invalid time-shift index: dates not finite")
        index._map_uses.update(m for m in index.maps if m)
        return index

    def memory(self) -> int:
        """Bytes held, roughly (bench/dvr.py): columns, names, list slots."""
        return (sum(c.itemsize * len(c) for c in (self.seqs, self.starts, self.durations,
                                                  self.disc_before))
                + len(self.flags) + sum(len(n) + 49 for n in self.names)
                + 3 * 8 * len(self.names))


