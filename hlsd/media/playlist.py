"""The media playlist (RFC 8216), as a model rendered to text. Pure: no I/O, no clock.

`render` is a pure function of the model; hlsd.media.parse reads text back into it.
The multivariant (master) playlist is hlsd.media.master.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

VERSION = 3  # floating-point EXTINF needs 3 (RFC 8216 §7)
MAP_VERSION = 6  # EXT-X-MAP outside an I-frame playlist needs 6 (RFC 8216 §7)
# EXT-X-GAP needs no higher version: RFC 8216bis §8 (draft 16) ties version 8 to variable
# substitution only, so a playlist with gaps keeps the version its other tags need.


class PlaylistError(ValueError):
    """A playlist operation that would break RFC 8216, or text that is not a playlist."""


def extinf_rounded(duration: float) -> int:
    """EXTINF rounded as RFC 8216 §4.3.3.1 compares it with the target duration.

    Half-up, on the 3-decimal value actually written: a client reading "4.500" may round
    either way, so hlsd must hold the stricter reading (segments stay below target + 0.5).
    """
    return math.floor(round(duration, 3) + 0.5)


@dataclass(frozen=True)
class KeyTag:
    """#EXT-X-KEY:METHOD=AES-128 with its URI and an explicit IV (RFC 8216 §4.3.2.4)."""

    uri: str
    iv: str  # 32 hex digits, written as IV=0x…

    def __post_init__(self) -> None:
        if not self.uri or has_control(self.uri) or '"' in self.uri:
            raise PlaylistError(f"key URI {self.uri!r} is empty or not quotable")
        if len(self.iv) != 32 or any(c not in "0123456789abcdef" for c in self.iv):
            raise PlaylistError(f"key IV {self.iv!r} is not 32 lowercase hex digits")

    def render(self) -> str:
        return f'#EXT-X-KEY:METHOD=AES-128,URI="{self.uri}",IV=0x{self.iv}'


@dataclass(frozen=True)
class Entry:
    """One media segment line group (#EXT-X-DISCONTINUITY, #EXT-X-KEY, #EXT-X-MAP,
    #EXT-X-PROGRAM-DATE-TIME, #EXT-X-GAP, #EXTINF).

    Normalised on construction to what the playlist text can say (duration to the
    millisecond, date-time to the millisecond in UTC), so model → text → model is exact.
    """

    seq: int  # media sequence number == the segmenter's global segment number
    name: str  # object name at the destination, e.g. live_ep_720p-00017.ts
    duration: float
    discontinuity: bool = False
    program_date_time: datetime | None = None  # tz-aware UTC
    independent: bool = True  # starts with a random access point
    map_name: str | None = None  # fMP4: object name of its init segment (#EXT-X-MAP)
    key: KeyTag | None = None  # encrypted whole with AES-128 (None: clear)
    # For the I-frame playlist (hlsd.media.iframes): the first presentation time (90 kHz),
    # each keyframe's (offset, size, pts), the PAT+PMT bytes of a TS segment, and the
    # I-frame number of its first keyframe (given by the playlist).
    pts: int | None = None
    iframes: tuple[tuple[int, int, int], ...] = ()
    psi: int | None = None
    iframe_seq: int = 0
    # #EXT-X-GAP (RFC 8216bis §4.4.4.7): a segment its rung could not produce, listed under
    # the name it would have had so the rungs stay aligned; no media: never stored,
    # never loaded by clients, never deleted.
    gap: bool = False
    # Ad markers opening or closing on this segment (#EXT-X-DATERANGE, #EXT-X-CUE-OUT/IN
    # lines, hlsd.media.breaks): they stay listed exactly as long as the segment.
    marks: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.map_name is not None and (not self.map_name or has_control(self.map_name)
                                          or '"' in self.map_name):
            raise PlaylistError(f"init segment name {self.map_name!r} is not quotable")
        if self.seq < 0:
            raise PlaylistError(f"segment {self.name!r}: negative sequence number {self.seq}")
        if not self.name or any(has_control(t) for t in (self.name, *self.marks)):
            raise PlaylistError(f"segment {self.name!r}: empty name or control characters")
        if not math.isfinite(self.duration) or self.duration < 0:
            raise PlaylistError(f"segment {self.name!r}: invalid duration {self.duration!r}")
        object.__setattr__(self, "duration", round(self.duration, 3))
        pdt = self.program_date_time
        if pdt is not None:
            if pdt.tzinfo is None or pdt.utcoffset() is None:
                raise PlaylistError(f"segment {self.name!r}: program_date_time must be tz-aware")
            pdt = pdt.astimezone(UTC)
            object.__setattr__(
                self, "program_date_time", pdt.replace(microsecond=pdt.microsecond // 1000 * 1000)
            )


@dataclass
class MediaPlaylist:
    target_duration: int
    window: int = 6  # index_segment_count; 0 keeps every segment (EVENT, then VOD)
    url_prefix: str = ""
    entries: list[Entry] = field(default_factory=list)
    media_sequence: int = 0
    discontinuity_sequence: int = 0
    ended: bool = False
    next_iframe: int = 0  # the I-frame number the next keyframe gets: never goes back
    # Longest duration this playlist was ever rendered with: RFC 8216 §6.2.2 keeps a removed
    # segment for its duration plus that of the longest playlist that contained it.
    longest_duration: float = field(default=0.0, compare=False)
    # timeline: locked: numbers follow the input's clock, so a jump (this host was down)
    # continues the same timeline: no discontinuity, which redundant hosts would not share.
    locked: bool = field(default=False, compare=False)

    def __post_init__(self) -> None:
        if self.target_duration < 1:
            raise PlaylistError(f"target duration must be ≥ 1 s, got {self.target_duration}")
        if self.window < 0:
            raise PlaylistError(f"window must be ≥ 0, got {self.window}")
        if has_control(self.url_prefix):
            raise PlaylistError(f"url_prefix {self.url_prefix!r} has control characters")

    def add(self, entry: Entry) -> list[Entry]:
        """Append; returns the entries that left the window (to be deleted later, not now).

        A jump in sequence numbers (segments skipped at this destination) or a change
        between TS and fMP4 empties the playlist and marks the new entry as a
        discontinuity, so every listed entry keeps media sequence number == seq. Gap
        entries (EXT-X-GAP) fill numbers in place, and have no format of their own.
        """
        if self.ended:
            raise PlaylistError(f"segment {entry.seq}: playlist already has #EXT-X-ENDLIST")
        if extinf_rounded(entry.duration) > self.target_duration:
            raise PlaylistError(
                f"segment {entry.seq}: duration {entry.duration:.3f} s rounds above the "
                f"target duration {self.target_duration} s"
            )
        if self.entries:
            last = self.entries[-1].seq
            if entry.seq <= last:
                raise PlaylistError(f"segment {entry.seq}: sequence goes back (last {last})")
        elif entry.seq < self.media_sequence:
            raise PlaylistError(
                f"segment {entry.seq}: sequence goes back (media sequence {self.media_sequence})"
            )
        removed: list[Entry] = []
        media = next((e for e in reversed(self.entries) if not e.gap), None)
        # A jump, or a change of segment format: no EXT-X-MAP can be taken back, so TS
        # never follows fMP4 in one playlist (nor the reverse, for symmetry).
        if self.entries and (entry.seq != self.entries[-1].seq + 1 or (
                media is not None and not entry.gap
                and (entry.map_name is None) != (media.map_name is None))):
            removed, self.entries = self.entries, []
            format_changed = media is not None and not entry.gap and (
                entry.map_name is None) != (media.map_name is None)
            entry = replace(entry, discontinuity=entry.discontinuity or not self.locked
                            or format_changed)
        if not self.entries:
            self.media_sequence = entry.seq
        entry = replace(entry, iframe_seq=self.next_iframe)
        self.next_iframe += len(entry.iframes)
        self.entries.append(entry)
        if self.window > 0:
            removed.extend(self._slide())
        self.discontinuity_sequence += sum(1 for e in removed if e.discontinuity)
        self.longest_duration = max(self.longest_duration, self.duration)
        return removed

    def _slide(self) -> list[Entry]:
        removed: list[Entry] = []
        remaining = self.duration
        # The small epsilon tolerates float sums of millisecond values (11.999999… vs 12).
        floor = 3 * self.target_duration - 1e-9
        while len(self.entries) > self.window and remaining - self.entries[0].duration >= floor:
            head = self.entries.pop(0)
            remaining -= head.duration
            removed.append(head)
            self.media_sequence += 1
        return removed

    def end(self) -> None:
        """Mark the playlist complete (#EXT-X-ENDLIST); no entry may follow."""
        self.ended = True

    @property
    def duration(self) -> float:
        return math.fsum(e.duration for e in self.entries)

    @property
    def version(self) -> int:
        """EXT-X-VERSION: the lowest that allows every tag written (RFC 8216 §7)."""
        return MAP_VERSION if any(e.map_name for e in self.entries) else VERSION

    @property
    def playlist_type(self) -> str | None:
        if self.window:
            return None
        return "VOD" if self.ended else "EVENT"

    def render(self) -> str:
        lines = [
            "#EXTM3U",
            f"#EXT-X-VERSION:{self.version}",
            f"#EXT-X-TARGETDURATION:{self.target_duration}",
            f"#EXT-X-MEDIA-SEQUENCE:{self.media_sequence}",
            f"#EXT-X-DISCONTINUITY-SEQUENCE:{self.discontinuity_sequence}",
        ]
        if self.playlist_type:
            lines.append(f"#EXT-X-PLAYLIST-TYPE:{self.playlist_type}")
        if self.entries and all(e.independent for e in self.entries):
            lines.append("#EXT-X-INDEPENDENT-SEGMENTS")
        current_map: str | None = None
        keyed = False  # an AES-128 key applies to what follows
        for e in self.entries:
            if e.discontinuity:
                lines.append("#EXT-X-DISCONTINUITY")
            lines += e.marks  # ad markers: a gap on one rung still opens its break
            if e.gap:  # no media: no MAP or KEY of its own, nothing to decrypt
                lines += _gap_lines(e, self.url_prefix)
                continue
            if e.map_name is not None and e.map_name != current_map:
                if keyed:  # the init segment is clear: no key may apply to it (§4.3.2.5)
                    lines.append("#EXT-X-KEY:METHOD=NONE")
                    keyed = False
                lines.append(f'#EXT-X-MAP:URI="{self.url_prefix}{e.map_name}"')
                current_map = e.map_name
            if e.key is not None:  # each segment its own IV: one tag per segment
                lines.append(e.key.render())
                keyed = True
            elif keyed:
                lines.append("#EXT-X-KEY:METHOD=NONE")
                keyed = False
            if e.program_date_time is not None:
                lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{format_pdt(e.program_date_time)}")
            lines.append(f"#EXTINF:{e.duration:.3f},")
            lines.append(self.url_prefix + e.name)
        if self.ended:
            lines.append("#EXT-X-ENDLIST")
        return "\n".join(lines) + "\n"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state (persisted so the media sequence survives restarts)."""
        state = asdict(self)
        for entry in state["entries"]:
            pdt = entry["program_date_time"]
            entry["program_date_time"] = pdt.isoformat() if pdt else None
        return state

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MediaPlaylist:
        try:
            entries = [
                Entry(**{**e, "program_date_time": _from_iso(e["program_date_time"]),
                         "key": KeyTag(**e["key"]) if e.get("key") else None,
                         "iframes": tuple(tuple(k) for k in e.get("iframes", ())),
                         "marks": tuple(e.get("marks", ()))})
                for e in data["entries"]
            ]
            playlist = cls(**{**data, "entries": entries})
        except (KeyError, TypeError, ValueError) as exc:
            raise PlaylistError(f"invalid playlist state: {exc}") from exc
        if entries and (
            entries[0].seq != playlist.media_sequence
            or any(b.seq != a.seq + 1 for a, b in pairwise(entries))
        ):
            raise PlaylistError("invalid playlist state: entries are not numbered contiguously")
        return playlist


def _gap_lines(entry: Entry, url_prefix: str) -> list[str]:
    lines = [] if entry.program_date_time is None else [
        f"#EXT-X-PROGRAM-DATE-TIME:{format_pdt(entry.program_date_time)}"]
    return [*lines, "#EXT-X-GAP", f"#EXTINF:{entry.duration:.3f},", url_prefix + entry.name]


def format_pdt(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")  # forbidden in playlists (RFC 8216 §4.1)


def has_control(text: str) -> bool:
    return _CONTROL.search(text) is not None


def _from_iso(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
