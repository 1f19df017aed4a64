"""The low-latency media playlist (RFC 8216bis, LL-HLS): a rung's regular playlist plus
its newest segments' parts, the part in progress, a preload hint for the next part,
reports on the other rungs, and delta updates. Pure: no I/O, no clock."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from hlsd.media.playlist import MediaPlaylist, format_pdt

LL_VERSION = 9  # EXT-X-SKIP needs 9; PART, PRELOAD-HINT and SERVER-CONTROL are fine there
PART_WINDOW = 3  # parts stay listed for the segments of the last 3 target durations
SKIP_FACTOR = 6  # CAN-SKIP-UNTIL: six target durations (the draft's minimum)


@dataclass(frozen=True)
class Part:
    """One #EXT-X-PART: a CMAF fragment run of segment `seq`, numbered from 0 in it."""

    seq: int
    index: int
    name: str
    duration: float
    independent: bool


@dataclass(frozen=True)
class Pending:
    """The segment in progress: its parts so far, and what opens it."""

    seq: int
    parts: tuple[Part, ...] = ()
    discontinuity: bool = False
    map_name: str | None = None


@dataclass(frozen=True)
class Report:
    """#EXT-X-RENDITION-REPORT for another rung."""

    uri: str
    last_msn: int
    last_part: int | None


@dataclass(frozen=True)
class LowLatencyView:
    playlist: MediaPlaylist
    part_target: float
    parts: Mapping[int, Sequence[Part]] = field(default_factory=dict)  # complete segments
    pending: Pending | None = None
    hint: str | None = None  # the next part's URI
    reports: Sequence[Report] = ()

    @property
    def hold_back(self) -> float:
        return 3.0 * self.playlist.target_duration

    @property
    def part_hold_back(self) -> float:
        return 3.0 * self.part_target  # the draft's minimum is 2x; Apple advises 3x

    @property
    def can_skip_until(self) -> float | None:
        """Offered only when the window is long enough for a delta to save anything."""
        until = float(SKIP_FACTOR * self.playlist.target_duration)
        return until if self.playlist.duration > until else None

    def last(self) -> tuple[int, int | None]:
        """(MSN, part index) of the newest thing listed: the part in progress, else the
        newest segment and its last part."""
        if self.pending is not None and self.pending.parts:
            return self.pending.seq, self.pending.parts[-1].index
        entries = self.playlist.entries
        if not entries:
            return self.playlist.media_sequence - 1, None
        parts = self.parts.get(entries[-1].seq)
        return entries[-1].seq, parts[-1].index if parts else None

    def skippable(self) -> int:
        """How many leading segments a delta update may replace with EXT-X-SKIP."""
        until = self.can_skip_until
        if until is None:
            return 0
        remaining, count = self.playlist.duration, 0
        for entry in self.playlist.entries:
            if remaining - entry.duration < until:
                break
            remaining -= entry.duration
            count += 1
        return count

    def render(self, skip: bool = False) -> str:
        playlist = self.playlist
        skipped = self.skippable() if skip else 0
        control = ["CAN-BLOCK-RELOAD=YES", f"PART-HOLD-BACK={self.part_hold_back:.3f}",
                   f"HOLD-BACK={self.hold_back:.3f}"]
        if self.can_skip_until is not None:
            control.append(f"CAN-SKIP-UNTIL={self.can_skip_until:.3f}")
        lines = ["#EXTM3U", f"#EXT-X-VERSION:{LL_VERSION}",
                 f"#EXT-X-TARGETDURATION:{playlist.target_duration}",
                 "#EXT-X-SERVER-CONTROL:" + ",".join(control),
                 f"#EXT-X-PART-INF:PART-TARGET={self.part_target:.3f}",
                 f"#EXT-X-MEDIA-SEQUENCE:{playlist.media_sequence}",
                 f"#EXT-X-DISCONTINUITY-SEQUENCE:{playlist.discontinuity_sequence}"]
        if playlist.entries and all(e.independent for e in playlist.entries):
            lines.append("#EXT-X-INDEPENDENT-SEGMENTS")
        if skipped:
            lines.append(f"#EXT-X-SKIP:SKIPPED-SEGMENTS={skipped}")
            # no CAN-SKIP-DATERANGES: a delta keeps the skipped segments' DATERANGEs
            lines += [m for e in playlist.entries[:skipped] for m in e.marks
                      if m.startswith("#EXT-X-DATERANGE:")]
        listed_parts = self._part_segments()
        current_map: str | None = None
        for entry in playlist.entries[skipped:]:
            if entry.discontinuity:
                lines.append("#EXT-X-DISCONTINUITY")
            current_map = _map(lines, entry.map_name, current_map)
            lines += entry.marks
            if entry.program_date_time is not None:
                lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{format_pdt(entry.program_date_time)}")
            if entry.gap:  # no parts: a rung that could not produce it had none either
                lines.append("#EXT-X-GAP")
            elif entry.seq in listed_parts:
                lines += [_part(p) for p in self.parts.get(entry.seq, ())]
            lines += [f"#EXTINF:{entry.duration:.3f},", entry.name]
        pending = self.pending
        if pending is not None and pending.parts and not playlist.ended:
            if pending.discontinuity and playlist.entries:
                lines.append("#EXT-X-DISCONTINUITY")
            _map(lines, pending.map_name, current_map)
            lines += [_part(p) for p in pending.parts]
        if self.hint is not None and not playlist.ended:
            lines.append(f'#EXT-X-PRELOAD-HINT:TYPE=PART,URI="{self.hint}"')
        for report in self.reports:
            attrs = f'URI="{report.uri}",LAST-MSN={report.last_msn}'
            if report.last_part is not None:
                attrs += f",LAST-PART={report.last_part}"
            lines.append("#EXT-X-RENDITION-REPORT:" + attrs)
        if playlist.ended:
            lines.append("#EXT-X-ENDLIST")
        return "\n".join(lines) + "\n"

    def _part_segments(self) -> set[int]:
        """Complete segments that still list their parts: those ending within
        PART_WINDOW target durations of the playlist's end."""
        horizon = float(PART_WINDOW * self.playlist.target_duration)
        if self.pending is not None:
            horizon -= math.fsum(p.duration for p in self.pending.parts)
        chosen, age = set(), 0.0
        for entry in reversed(self.playlist.entries):
            if age >= horizon:
                break
            chosen.add(entry.seq)
            age += entry.duration
        return chosen


def _map(lines: list[str], name: str | None, current: str | None) -> str | None:
    if name is not None and name != current:
        lines.append(f'#EXT-X-MAP:URI="{name}"')
        return name
    return current


def _part(part: Part) -> str:
    independent = ",INDEPENDENT=YES" if part.independent else ""
    return f'#EXT-X-PART:DURATION={part.duration:.5f},URI="{part.name}"{independent}'
