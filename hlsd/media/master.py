"""The multivariant (master) playlist (RFC 8216 §4.3.4), as a model rendered to text. Pure."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from hlsd.media.playlist import VERSION, PlaylistError, has_control


@dataclass(frozen=True)
class Variant:
    """One #EXT-X-STREAM-INF of the master playlist."""

    uri: str
    bandwidth: int  # peak bits/s
    average_bandwidth: int | None = None
    codecs: str | None = None  # RFC 6381 list, e.g. "avc1.64001f,mp4a.40.2"
    resolution: tuple[int, int] | None = None  # video only
    frame_rate: float | None = None  # video only

    def __post_init__(self) -> None:
        if not self.uri or has_control(self.uri):
            raise PlaylistError(f"variant URI {self.uri!r} is empty or has control characters")
        if self.bandwidth <= 0:
            raise PlaylistError(f"variant {self.uri!r}: bandwidth must be > 0")
        if self.codecs is not None and '"' in self.codecs:
            raise PlaylistError(f"variant {self.uri!r}: codecs may not contain '\"'")


@dataclass(frozen=True)
class IFrameVariant:
    """One #EXT-X-I-FRAME-STREAM-INF: a rung's I-frame playlist (RFC 8216 §4.3.4.3)."""

    uri: str
    bandwidth: int  # peak bits/s of I-frame bytes over their durations
    average_bandwidth: int | None
    codecs: str | None  # the video codec only
    resolution: tuple[int, int] | None

    def render(self) -> str:
        attrs = [f"BANDWIDTH={self.bandwidth}"]
        if self.average_bandwidth is not None:
            attrs.append(f"AVERAGE-BANDWIDTH={self.average_bandwidth}")
        if self.codecs is not None:
            attrs.append(f'CODECS="{self.codecs}"')
        if self.resolution is not None:
            attrs.append(f"RESOLUTION={self.resolution[0]}x{self.resolution[1]}")
        attrs.append(f'URI="{self.uri}"')
        return "#EXT-X-I-FRAME-STREAM-INF:" + ",".join(attrs)


def render_master(variants: Iterable[Variant], independent_segments: bool = True,
                  iframes: Iterable[IFrameVariant] = ()) -> str:
    lines = ["#EXTM3U", f"#EXT-X-VERSION:{VERSION}"]
    if independent_segments:
        lines.append("#EXT-X-INDEPENDENT-SEGMENTS")
    for v in sorted(variants, key=lambda v: v.bandwidth):
        attrs = [f"BANDWIDTH={v.bandwidth}"]
        if v.average_bandwidth is not None:
            attrs.append(f"AVERAGE-BANDWIDTH={v.average_bandwidth}")
        if v.codecs is not None:
            attrs.append(f'CODECS="{v.codecs}"')
        if v.resolution is not None:
            attrs.append(f"RESOLUTION={v.resolution[0]}x{v.resolution[1]}")
        if v.frame_rate is not None:
            attrs.append(f"FRAME-RATE={v.frame_rate:.3f}")
        lines += ["#EXT-X-STREAM-INF:" + ",".join(attrs), v.uri]
    lines += [i.render() for i in iframes]
    return "\n".join(lines) + "\n"
