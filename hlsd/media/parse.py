"""Playlist text (RFC 8216) read back into the hlsd.media models. Pure: no I/O, no clock.

`parse_media`/`parse_master` are pure functions of text, tolerant enough for our own output
and ffmpeg's.
"""

from __future__ import annotations

import math
import re
from datetime import datetime

from hlsd.media.master import Variant
from hlsd.media.playlist import Entry, KeyTag, MediaPlaylist, PlaylistError


def parse_media(text: str, *, url_prefix: str = "", window: int | None = None) -> MediaPlaylist:
    """The model a media playlist text describes.

    The text does not say the window of a sliding playlist: without `window` it is taken as
    the number of entries. Without #EXT-X-INDEPENDENT-SEGMENTS every entry reads as not
    independent (the text cannot say which ones are).
    """
    target: int | None = None
    msn = dsn = 0
    kind: str | None = None
    independent = ended = False
    entries: list[Entry] = []
    disc, gap, pdt, duration = False, False, None, None
    map_name: str | None = None  # MAP and KEY apply until the next one
    key: KeyTag | None = None
    marks: list[str] = []  # ad markers: they belong to the next segment
    for line in _lines(text)[1:]:
        tag, _, value = line.partition(":")
        if tag == "#EXT-X-TARGETDURATION":
            target = _int(line, value)
        elif tag == "#EXT-X-MEDIA-SEQUENCE":
            msn = _int(line, value)
        elif tag == "#EXT-X-DISCONTINUITY-SEQUENCE":
            dsn = _int(line, value)
        elif tag == "#EXT-X-PLAYLIST-TYPE":
            kind = value
        elif tag == "#EXT-X-INDEPENDENT-SEGMENTS":
            independent = True
        elif tag == "#EXT-X-ENDLIST":
            ended = True
        elif tag == "#EXT-X-DISCONTINUITY":
            disc = True
        elif tag == "#EXT-X-GAP":
            gap = True
        elif tag == "#EXT-X-PROGRAM-DATE-TIME":
            pdt = _datetime(line, value)
        elif tag in ("#EXT-X-DATERANGE", "#EXT-X-CUE-OUT", "#EXT-X-CUE-IN"):
            marks.append(line)
        elif tag == "#EXTINF":
            duration = _float(line, value.partition(",")[0])
        elif tag == "#EXT-X-MAP":
            uri = parse_attributes(value).get("URI", "")
            map_name = uri.removeprefix(url_prefix) if url_prefix else uri
        elif tag == "#EXT-X-KEY":
            key = _key(line, parse_attributes(value))
        elif not line.startswith("#"):
            if duration is None:
                raise PlaylistError(f"URI without #EXTINF: {line!r}")
            name = line.removeprefix(url_prefix) if url_prefix else line
            entries.append(Entry(msn + len(entries), name, duration, disc, pdt, independent,
                                 None if gap else map_name, None if gap else key, gap=gap,
                                 marks=tuple(marks)))
            disc, gap, pdt, duration, marks = False, False, None, None, []
    if target is None:
        raise PlaylistError("no #EXT-X-TARGETDURATION")
    if window is None:
        window = 0 if kind in ("EVENT", "VOD") else max(len(entries), 1)
    return MediaPlaylist(
        target_duration=target,
        window=window,
        url_prefix=url_prefix,
        entries=entries,
        media_sequence=msn,
        discontinuity_sequence=dsn,
        ended=ended,
        longest_duration=math.fsum(e.duration for e in entries),
    )


def parse_master(text: str) -> list[Variant]:
    """The variants a master playlist lists, in the order it lists them."""
    variants: list[Variant] = []
    attrs: dict[str, str] | None = None
    for line in _lines(text)[1:]:
        if line.startswith("#EXT-X-STREAM-INF:"):
            attrs = parse_attributes(line.partition(":")[2])
        elif not line.startswith("#") and attrs is not None:
            if "BANDWIDTH" not in attrs:
                raise PlaylistError(f"variant {line!r} has no BANDWIDTH")
            res = attrs.get("RESOLUTION")
            w, _, h = (res or "").partition("x")
            variants.append(
                Variant(
                    uri=line,
                    bandwidth=_int(line, attrs["BANDWIDTH"]),
                    average_bandwidth=(
                        _int(line, attrs["AVERAGE-BANDWIDTH"])
                        if "AVERAGE-BANDWIDTH" in attrs
                        else None
                    ),
                    codecs=attrs.get("CODECS"),
                    resolution=(_int(line, w), _int(line, h)) if res else None,
                    frame_rate=_float(line, attrs["FRAME-RATE"]) if "FRAME-RATE" in attrs else None,
                    captions=attrs.get("CLOSED-CAPTIONS", "NONE") != "NONE",
                )
            )
            attrs = None
    return variants


_ATTRIBUTE = re.compile(r'([A-Z0-9-]+)=("[^"]*"|[^",]*)(?:,|$)')


def parse_attributes(text: str) -> dict[str, str]:
    """An RFC 8216 §4.2 attribute list; quoted values come back without their quotes."""
    return {m[1]: m[2].strip('"') for m in _ATTRIBUTE.finditer(text)}


def _key(line: str, attrs: dict[str, str]) -> KeyTag | None:
    method = attrs.get("METHOD")
    if method == "NONE":
        return None
    iv = attrs.get("IV", "")
    if method != "AES-128" or not iv.lower().startswith("0x"):
        raise PlaylistError(f"unsupported key (AES-128 with an IV expected): {line!r}")
    return KeyTag(attrs.get("URI", ""), iv[2:].lower())


def _lines(text: str) -> list[str]:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines or lines[0] != "#EXTM3U":
        raise PlaylistError("not a playlist: first line is not #EXTM3U")
    return lines


def _int(line: str, value: str) -> int:
    if not value.strip().isdigit():
        raise PlaylistError(f"not a decimal integer in {line!r}")
    return int(value)


def _float(line: str, value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise PlaylistError(f"not a number in {line!r}") from None


def _datetime(line: str, value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise PlaylistError(f"not a date-time in {line!r}") from None
    if moment.tzinfo is None:
        raise PlaylistError(f"date-time without time zone in {line!r}")
    return moment
