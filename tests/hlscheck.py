"""An RFC 8216 checker for playlists as a client sees them, poll after poll.

Integration tests feed it every text they fetch from a live destination; it raises
AssertionError naming the rule a playlist broke. It parses on its own (not with
hlsd.playlistparse), so a bug in the model cannot hide itself here.

    watcher = MediaPlaylistWatcher("live_ep_720p.m3u8")
    while ...:
        watcher.check(fetch(url), exists=lambda uri: head(urljoin(url, uri)) == 200)
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import NoReturn

_DECIMAL_FLOAT = re.compile(r"\d+\.\d+")
_DECIMAL_INT = re.compile(r"\d+")
_ATTRIBUTE = re.compile(r'([A-Z0-9-]+)=("[^"]*"|[^",]*)(?:,|$)')
_WINDOW_EPSILON = 0.001  # EXTINF values are written to the millisecond


@dataclass(frozen=True)
class Segment:
    msn: int
    uri: str
    extinf: str  # as written, so a rewrite at the same MSN is caught exactly
    discontinuity: bool
    discontinuity_number: int  # RFC 8216 §6.2.2: DSN + DISCONTINUITY tags up to this one
    gap: bool = False  # #EXT-X-GAP: no media behind the URI; clients must not load it

    @property
    def duration(self) -> float:
        return float(self.extinf)


@dataclass
class MediaText:
    version: int
    target: int
    msn: int
    dsn: int
    kind: str | None  # EXT-X-PLAYLIST-TYPE
    ended: bool
    segments: list[Segment] = field(default_factory=list)
    # Other objects the playlist names: EXT-X-MAP init segments and EXT-X-KEY keys.
    resources: list[str] = field(default_factory=list)

    @property
    def duration(self) -> float:
        return sum(s.duration for s in self.segments)


def parse_attributes(text: str) -> dict[str, str]:
    """An RFC 8216 §4.2 attribute list; quoted values without their quotes."""
    return {m[1]: m[2].strip('"') for m in _ATTRIBUTE.finditer(text)}


def _fail(where: str, message: str) -> NoReturn:
    raise AssertionError(f"{where}: {message}")


def _int_tag(where: str, line: str) -> int:
    value = line.partition(":")[2].strip()
    if not _DECIMAL_INT.fullmatch(value):
        _fail(where, f"not a decimal integer: {line!r}")
    return int(value)


def parse_media_text(text: str, where: str = "playlist") -> MediaText:
    """The facts of a media playlist text; AssertionError on what RFC 8216 §4 forbids."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines or lines[0] != "#EXTM3U":
        _fail(where, "first line is not #EXTM3U")
    version, target, msn, dsn, kind, ended = 1, None, 0, 0, None, False
    raw: list[tuple[str, str, bool, bool]] = []
    extinf: str | None = None
    disc = gap = False
    resources: list[str] = []
    maps = iframes_only = False
    for line in lines[1:]:
        iframes_only = iframes_only or line == "#EXT-X-I-FRAMES-ONLY"
        tag = line.partition(":")[0]
        if tag in ("#EXT-X-MAP", "#EXT-X-KEY"):
            attrs = parse_attributes(line.partition(":")[2])
            if tag == "#EXT-X-KEY" and attrs.get("METHOD") not in ("NONE", "AES-128"):
                _fail(where, f"unknown key method: {line!r}")
            if "URI" in attrs:
                resources.append(attrs["URI"])
            elif attrs.get("METHOD") != "NONE":
                _fail(where, f"{tag} without URI: {line!r}")
            maps = maps or tag == "#EXT-X-MAP"
        if tag == "#EXT-X-VERSION":
            version = _int_tag(where, line)
        elif tag == "#EXT-X-TARGETDURATION":
            target = _int_tag(where, line)
        elif tag == "#EXT-X-MEDIA-SEQUENCE":
            msn = _int_tag(where, line)
        elif tag == "#EXT-X-DISCONTINUITY-SEQUENCE":
            dsn = _int_tag(where, line)
        elif tag == "#EXT-X-PLAYLIST-TYPE":
            kind = line.partition(":")[2]
            if kind not in ("EVENT", "VOD"):
                _fail(where, f"unknown playlist type {line!r}")
        elif tag == "#EXT-X-ENDLIST":
            ended = True
        elif tag == "#EXT-X-DISCONTINUITY":
            disc = True
        elif tag == "#EXT-X-GAP":
            gap = True
        elif tag == "#EXT-X-PROGRAM-DATE-TIME":
            try:
                moment = datetime.fromisoformat(line.partition(":")[2])
            except ValueError:
                moment = None
            if moment is None or moment.tzinfo is None:
                _fail(where, f"not a date-time with time zone: {line!r}")
        elif tag == "#EXTINF":
            extinf = line.partition(":")[2].partition(",")[0]
            if not _DECIMAL_FLOAT.fullmatch(extinf):
                _fail(where, f"EXTINF is not a decimal float: {line!r}")
        elif not line.startswith("#"):
            if extinf is None:
                _fail(where, f"URI without #EXTINF: {line!r}")
            raw.append((line, extinf, disc, gap))
            extinf, disc, gap = None, False, False
    if version < 3:
        _fail(where, f"EXT-X-VERSION {version} < 3 (decimal-float EXTINF needs 3)")
    needed = 5 if iframes_only else 6
    if maps and version < needed:
        _fail(where, f"EXT-X-VERSION {version} < {needed} with EXT-X-MAP (RFC 8216 §7)")
    if target is None:
        _fail(where, "no #EXT-X-TARGETDURATION")
    if kind == "VOD" and not ended:
        _fail(where, "VOD playlist without #EXT-X-ENDLIST")
    playlist = MediaText(version, target, msn, dsn, kind, ended, resources=resources)
    number = dsn
    for i, (uri, value, disc, gap) in enumerate(raw):
        number += disc
        playlist.segments.append(Segment(msn + i, uri, value, disc, number, gap))
    return playlist


class MediaPlaylistWatcher:
    """Checks one media playlist URL across polls: each text alone, then against the last."""

    def __init__(self, name: str = "playlist", *, check_window: bool = True) -> None:
        self.name = name
        self.check_window = check_window  # off for producers known to ignore §6.2.2
        self.polls = 0
        self.last: MediaText | None = None
        self._seen: dict[int, Segment] = {}  # every segment ever listed, by MSN

    def check(self, text: str, exists: Callable[[str], bool]) -> None:
        self.polls += 1
        where = f"{self.name} (poll {self.polls})"
        now = parse_media_text(text, where)
        for s in now.segments:
            # RFC 8216 §4.3.3.1 "rounded to the nearest integer": only a value that rounds
            # above the target both ways (half-up and half-down) is an unambiguous violation.
            if s.duration - 0.5 > now.target:
                _fail(where, f"MSN {s.msn}: EXTINF {s.extinf} rounds above target {now.target}")
            if not s.gap and not exists(s.uri):  # a gap's URI names nothing (RFC 8216bis)
                _fail(where, f"MSN {s.msn}: listed segment {s.uri!r} does not exist")
        for uri in now.resources:  # absolute URIs (keys on another server) are not ours
            if "://" not in uri and not exists(uri):
                _fail(where, f"named object {uri!r} (MAP or KEY) does not exist")
        if self.last is not None:
            self._compare(where, self.last, now)
        for s in now.segments:
            self._seen[s.msn] = s
        self.last = now

    def _compare(self, where: str, old: MediaText, now: MediaText) -> None:
        if now.target != old.target:
            _fail(where, f"target duration changed {old.target} -> {now.target}")
        if now.msn < old.msn:
            _fail(where, f"media sequence went back {old.msn} -> {now.msn}")
        if now.dsn < old.dsn:
            _fail(where, f"discontinuity sequence went back {old.dsn} -> {now.dsn}")
        if old.ended and not now.ended:
            _fail(where, "#EXT-X-ENDLIST disappeared")
        if old.ended and [s.msn for s in now.segments] != [s.msn for s in old.segments]:
            _fail(where, "segments changed after #EXT-X-ENDLIST")
        # EVENT may become VOD only as it ends (hlsd does this; players accept it).
        if now.kind != old.kind and not (old.kind == "EVENT" and now.kind == "VOD"):
            _fail(where, f"playlist type changed {old.kind} -> {now.kind}")
        if old.kind == "EVENT" and now.msn != old.msn:
            _fail(where, f"EVENT playlist removed segments (media sequence {old.msn} -> {now.msn})")
        old_end = old.msn + len(old.segments)
        if old.msn < now.msn <= old_end:
            removed = [s for s in old.segments if s.msn < now.msn]
            expected = old.dsn + sum(s.discontinuity for s in removed)
            if now.dsn != expected:
                _fail(
                    where,
                    f"discontinuity sequence {now.dsn}, expected {expected} after removing "
                    f"MSN {old.msn}..{now.msn - 1}",
                )
        for s in now.segments:
            before = self._seen.get(s.msn)
            if before is None:
                continue
            if (s.uri, s.extinf, s.gap) != (before.uri, before.extinf, before.gap):
                _fail(
                    where,
                    f"MSN {s.msn} changed: {before.uri} {before.extinf} gap={before.gap} -> "
                    f"{s.uri} {s.extinf} gap={s.gap}",
                )
            if s.discontinuity_number != before.discontinuity_number:
                _fail(
                    where,
                    f"MSN {s.msn}: discontinuity number {before.discontinuity_number} -> "
                    f"{s.discontinuity_number} (DISCONTINUITY tags or sequence inconsistent)",
                )
        last_seen = self._seen.get(max(self._seen)) if self._seen else None
        for s in now.segments:
            if (
                last_seen
                and s.msn > last_seen.msn
                and s.discontinuity_number < last_seen.discontinuity_number
            ):
                _fail(where, f"MSN {s.msn}: discontinuity number went back")
        live = not now.ended and now.kind is None
        # A reset after skipped segments (first entry a DISCONTINUITY past everything listed
        # before) legitimately starts short; any other removal must leave 3 target durations.
        reset = bool(now.segments) and now.segments[0].discontinuity and now.msn >= old_end
        if (
            self.check_window
            and live
            and now.msn > old.msn
            and not reset
            and now.duration < 3 * now.target - _WINDOW_EPSILON
        ):
            _fail(
                where,
                f"live window {now.duration:.3f} s < 3 x target {now.target} s after removing "
                f"segments (RFC 8216 §6.2.2)",
            )


def check_master(
    text: str, exists: Callable[[str], bool], where: str = "master"
) -> list[dict[str, str]]:
    """Checks a master playlist; returns each variant's attributes (plus "URI")."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines or lines[0] != "#EXTM3U":
        _fail(where, "first line is not #EXTM3U")
    variants: list[dict[str, str]] = []
    pending: dict[str, str] | None = None
    for line in lines[1:]:
        if line.startswith("#EXT-X-STREAM-INF:"):
            if pending is not None:
                _fail(where, f"#EXT-X-STREAM-INF without URI before {line!r}")
            pending = {m[1]: m[2] for m in _ATTRIBUTE.finditer(line.partition(":")[2])}
        elif not line.startswith("#"):
            if pending is None:
                _fail(where, f"URI without #EXT-X-STREAM-INF: {line!r}")
            _check_variant(f"{where} variant {line}", pending)
            if not exists(line):
                _fail(where, f"variant playlist {line!r} does not exist")
            variants.append({**{k: v.strip('"') for k, v in pending.items()}, "URI": line})
            pending = None
    if pending is not None:
        _fail(where, "last #EXT-X-STREAM-INF has no URI")
    if not variants:
        _fail(where, "no variants")
    return variants


def _check_variant(where: str, attrs: dict[str, str]) -> None:
    for name in ("BANDWIDTH", "AVERAGE-BANDWIDTH"):
        if name in attrs and not _DECIMAL_INT.fullmatch(attrs[name]):
            _fail(where, f"{name}={attrs[name]} is not a decimal integer")
    if "BANDWIDTH" not in attrs:
        _fail(where, "no BANDWIDTH")
    if int(attrs.get("AVERAGE-BANDWIDTH", 0)) > int(attrs["BANDWIDTH"]):
        _fail(where, "AVERAGE-BANDWIDTH above BANDWIDTH (peak)")
    codecs = attrs.get("CODECS")
    if codecs is None or len(codecs) < 3 or not (codecs[0] == codecs[-1] == '"'):
        _fail(where, "no quoted CODECS")
    if "RESOLUTION" in attrs and not re.fullmatch(r"\d+x\d+", attrs["RESOLUTION"]):
        _fail(where, f"RESOLUTION={attrs['RESOLUTION']} is not WxH")
    if "FRAME-RATE" in attrs and not _DECIMAL_FLOAT.fullmatch(attrs["FRAME-RATE"]):
        _fail(where, f"FRAME-RATE={attrs['FRAME-RATE']} is not a decimal float")
