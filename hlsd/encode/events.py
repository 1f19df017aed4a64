"""Event lines printed by hlsd-segmenter, as typed values (pure, no I/O)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


class EventError(ValueError):
    """A segmenter line that is not a well-formed event."""


@dataclass(frozen=True)
class VideoInfo:
    codec: str  # RFC 6381, e.g. avc1.64001f
    width: int
    height: int
    fps: float | None
    captions: bool = False  # CEA-608/708 closed captions in the SEI (ATSC A/53)


@dataclass(frozen=True)
class AudioInfo:
    codec: str  # RFC 6381, e.g. mp4a.40.2
    channels: int | None = None


@dataclass(frozen=True)
class StreamInfo:
    """`{"event":"stream",...}`: what the segmenter found in the elementary streams."""

    video: VideoInfo | None
    audio: AudioInfo | None

    @property
    def codecs(self) -> str:
        """The CODECS attribute of EXT-X-STREAM-INF."""
        return ",".join(c.codec for c in (self.video, self.audio) if c is not None)


@dataclass(frozen=True)
class SegmentReady:
    """`{"event":"segment",...}`: a finished segment, already under its final name."""

    seq: int
    file: str
    duration: float
    pts: int
    bytes: int
    keyframe: bool
    discontinuity: bool = False
    corrupt: int = 0  # input packets skipped as corrupt since the previous segment
    init: str | None = None  # fMP4: the init segment file it needs (announced before)
    # (offset, size, pts) of each keyframe: the bytes that decode alone (given the init,
    # or the `psi` bytes at the start of a TS segment)
    keyframes: tuple[tuple[int, int, int], ...] = ()
    psi: int | None = None  # TS: bytes of PAT + PMT at the start


@dataclass(frozen=True)
class InitReady:
    """`{"event":"init",...}`: an fMP4 init segment, content-addressed (a new name
    whenever its content changes), written before any segment that needs it."""

    file: str
    bytes: int


@dataclass(frozen=True)
class PartReady:
    """`{"event":"part",...}`: an LL-HLS part of segment `seq`, complete in its own file
    the moment it is announced; the segment is its parts concatenated."""

    seq: int
    index: int  # from 0 within the segment
    file: str
    duration: float
    bytes: int
    independent: bool  # starts with a sync sample
    last: bool = False  # the segment's last part (its segment event follows)
    discontinuity: bool = False  # the first part of a new pipeline run (set by hlsd)


@dataclass(frozen=True)
class StreamEnd:
    """`{"event":"end",...}`: the input ended and the last segment was reported."""

    segments: int
    duration: float
    corrupt: int = 0  # input packets skipped as corrupt, in all


Event = StreamInfo | InitReady | PartReady | SegmentReady | StreamEnd


def _field(obj: dict[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    value = obj.get(name)
    # bool is an int subclass; never accept it where a number is expected.
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise EventError(f"field {name!r} missing or not {kind}: {value!r}")
    return value


def _count(obj: dict[str, Any], name: str) -> int:
    """An optional non-negative count (0 when absent: older segmenters omit it)."""
    value = obj.get(name, 0)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise EventError(f"field {name!r} is not a count: {value!r}")
    return value


def _keyframes(value: Any) -> tuple[tuple[int, int, int], ...]:
    if not isinstance(value, list) or not all(
            isinstance(k, list) and len(k) == 3 and all(
                isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in k)
            for k in value):
        raise EventError(f"keyframes is not a list of [offset, size, pts]: {value!r:.200}")
    return tuple((k[0], k[1], k[2]) for k in value)


def _optional_text(obj: dict[str, Any], name: str) -> str | None:
    value = obj.get(name)
    if value is not None and not isinstance(value, str):
        raise EventError(f"field {name!r} is not a string: {value!r}")
    return value


def _video(obj: Any) -> VideoInfo | None:
    if obj is None:
        return None
    if not isinstance(obj, dict):
        raise EventError(f"video is not an object: {obj!r}")
    fps = obj.get("fps")
    return VideoInfo(
        codec=_field(obj, "codec", str),
        width=_field(obj, "width", int),
        height=_field(obj, "height", int),
        fps=float(fps) if isinstance(fps, int | float) and fps > 0 else None,
        captions=obj.get("captions") is True,
    )


def _audio(obj: Any) -> AudioInfo | None:
    if obj is None:
        return None
    if not isinstance(obj, dict):
        raise EventError(f"audio is not an object: {obj!r}")
    channels = obj.get("channels")
    return AudioInfo(codec=_field(obj, "codec", str), channels=channels if isinstance(
        channels, int) and not isinstance(channels, bool) and channels > 0 else None)


def parse_line(line: str | bytes) -> Event | None:
    """One stdout line → event; None for an event kind this version does not know."""
    try:
        obj = json.loads(line)
    except ValueError as exc:
        raise EventError(f"not JSON: {line!r:.200}") from exc
    if not isinstance(obj, dict):
        raise EventError(f"not an object: {line!r:.200}")
    kind = obj.get("event")
    if kind == "segment":
        return SegmentReady(
            seq=_field(obj, "seq", int),
            file=_field(obj, "file", str),
            duration=float(_field(obj, "duration", (int, float))),
            pts=_field(obj, "pts", int),
            bytes=_field(obj, "bytes", int),
            keyframe=bool(obj.get("keyframe", True)),
            discontinuity=bool(obj.get("discontinuity", False)),
            corrupt=_count(obj, "corrupt"),
            init=_optional_text(obj, "init"),
            keyframes=_keyframes(obj.get("keyframes", [])),
            psi=_count(obj, "psi") or None,
        )
    if kind == "part":
        return PartReady(
            seq=_field(obj, "seq", int), index=_field(obj, "index", int),
            file=_field(obj, "file", str),
            duration=float(_field(obj, "duration", (int, float))),
            bytes=_field(obj, "bytes", int), independent=bool(obj.get("independent", False)),
            last=bool(obj.get("last", False)))
    if kind == "init":
        return InitReady(file=_field(obj, "file", str), bytes=_field(obj, "bytes", int))
    if kind == "stream":
        return StreamInfo(video=_video(obj.get("video")), audio=_audio(obj.get("audio")))
    if kind == "end":
        return StreamEnd(
            segments=_field(obj, "segments", int),
            duration=float(_field(obj, "duration", (int, float))),
            corrupt=_count(obj, "corrupt"),
        )
    if isinstance(kind, str):
        return None  # forward compatible: newer segmenters may add event kinds
    raise EventError(f"no event name: {line!r:.200}")
