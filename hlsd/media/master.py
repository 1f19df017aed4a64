"""The multivariant (master) playlist (RFC 8216 §4.3.4), as a model rendered to text. Pure.

The order of the variants matters: players start with the first one listed (Apple's HLS
authoring specification, rule 1.32: "Defaults are the first variant listed"), and some
(GStreamer's hlsdemux2) keep the tracks of the variant they started on, so starting on an
audio-only rung loses the video at the first switch. See `playback_order`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from hlsd.media.playlist import VERSION, PlaylistError, has_control
from hlsd.media.renditions import AUDIO_GROUP, SUBTITLES_GROUP, AlternateMedia, group_on
from hlsd.media.steering import DIRECT, Route, Steering

# Rule 1.32 of Apple's authoring specification: the default video variant SHOULD be the
# 2000 kbit/s (average bit rate) one. The start is the video variant closest to it from
# below, so a viewer on a modest link starts without stalling and switches up from there.
START_BITRATE = 2_000_000
# RFC 6381 sample entry names of video codecs (a variant listing one carries video).
VIDEO_CODECS = ("avc1", "avc3", "hvc1", "hev1", "dvh1", "dvhe", "av01", "vp09", "mp4v")


CAPTIONS_GROUP = "cc"


@dataclass(frozen=True)
class Variant:
    """One #EXT-X-STREAM-INF of the master playlist."""

    uri: str
    bandwidth: int  # peak bits/s
    average_bandwidth: int | None = None
    codecs: str | None = None  # RFC 6381 list, e.g. "avc1.64001f,mp4a.40.2"
    resolution: tuple[int, int] | None = None  # video only
    frame_rate: float | None = None  # video only
    captions: bool = False  # carries CEA-608/708 closed captions in its video
    audio: str | None = None  # GROUP-ID of the audio renditions it plays with
    subtitles: str | None = None  # GROUP-ID of the subtitle renditions

    def __post_init__(self) -> None:
        if not self.uri or has_control(self.uri):
            raise PlaylistError(f"variant URI {self.uri!r} is empty or has control characters")
        if self.bandwidth <= 0:
            raise PlaylistError(f"variant {self.uri!r}: bandwidth must be > 0")
        if self.codecs is not None and '"' in self.codecs:
            raise PlaylistError(f"variant {self.uri!r}: codecs may not contain '\"'")

    @property
    def video(self) -> bool:
        """The variant carries video: it has a resolution or names a video codec."""
        return self.resolution is not None or any(
            c.strip().startswith(VIDEO_CODECS) for c in (self.codecs or "").split(","))

    @property
    def typical_bandwidth(self) -> int:
        """AVERAGE-BANDWIDTH where known (what rule 1.32 speaks of), else BANDWIDTH."""
        return self.average_bandwidth or self.bandwidth


@dataclass(frozen=True)
class IFrameVariant:
    """One #EXT-X-I-FRAME-STREAM-INF: a rung's I-frame playlist (RFC 8216 §4.3.4.3)."""

    uri: str
    bandwidth: int  # peak bits/s of I-frame bytes over their durations
    average_bandwidth: int | None
    codecs: str | None  # the video codec only
    resolution: tuple[int, int] | None

    def render(self, route: Route = DIRECT[0]) -> str:
        attrs = _common(self.bandwidth, self.average_bandwidth, self.codecs, self.resolution)
        attrs.append(f'URI="{route.uri(self.uri)}"')
        return "#EXT-X-I-FRAME-STREAM-INF:" + ",".join(attrs + route.attrs(self.uri))


def _common(bandwidth: int, average: int | None, codecs: str | None,
            resolution: tuple[int, int] | None) -> list[str]:
    """The attributes EXT-X-STREAM-INF and EXT-X-I-FRAME-STREAM-INF share."""
    attrs = [f"BANDWIDTH={bandwidth}"]
    if average is not None:
        attrs.append(f"AVERAGE-BANDWIDTH={average}")
    if codecs is not None:
        attrs.append(f'CODECS="{codecs}"')
    if resolution is not None:
        attrs.append(f"RESOLUTION={resolution[0]}x{resolution[1]}")
    return attrs


def with_renditions(variants: Iterable[Variant], media: Sequence[AlternateMedia]
                    ) -> list[Variant]:
    """The variants as they play with the renditions: every video variant names the audio
    group, carries its codec in CODECS and the largest rendition's bit rate in BANDWIDTH
    and AVERAGE-BANDWIDTH (what the player fetches at once); every variant names the
    subtitle group. An audio-only variant keeps its own audio."""
    audio = [m for m in media if m.type == "AUDIO"]
    subtitles = SUBTITLES_GROUP if any(m.type == "SUBTITLES" for m in media) else None
    out = []
    for v in variants:
        v = replace(v, subtitles=subtitles)
        if audio and v.video:
            codecs = [c for c in (v.codecs or "").split(",") if c]
            codecs += [c for m in audio for c in (m.codecs or "").split(",")
                       if c and c not in codecs]
            average = max((m.average_bandwidth or m.bandwidth for m in audio), default=0)
            v = replace(v, audio=AUDIO_GROUP, codecs=",".join(dict.fromkeys(codecs)) or None,
                        bandwidth=v.bandwidth + max(m.bandwidth for m in audio),
                        average_bandwidth=None if v.average_bandwidth is None
                        else v.average_bandwidth + average)
        out.append(v)
    return out


def playback_order(variants: Iterable[Variant], start: str | None = None) -> list[Variant]:
    """The variants in the order the master lists them.

    First the start variant: the one whose URI is `start` when given (the operator's
    choice, whatever it carries), else the video variant with the highest typical bit rate
    not above START_BITRATE, else the lowest video variant. Then the other video variants
    by ascending BANDWIDTH, then the variants without video (audio-only) by ascending
    BANDWIDTH: a player that starts on the first one gets video from the start.
    """
    ordered = sorted(variants, key=lambda v: (not v.video, v.bandwidth))
    chosen = next((v for v in ordered if v.uri == start), None) if start else None
    if chosen is None:
        video = [v for v in ordered if v.video]
        modest = [v for v in video if v.typical_bandwidth <= START_BITRATE]
        if modest:
            chosen = max(modest, key=lambda v: v.typical_bandwidth)
        elif video:
            chosen = video[0]
    if chosen is None:
        return ordered
    return [chosen, *(v for v in ordered if v is not chosen)]


def render_master(variants: Iterable[Variant], independent_segments: bool = True,
                  start: str | None = None, iframes: Iterable[IFrameVariant] = (),
                  steering: Steering | None = None,
                  media: Sequence[AlternateMedia] = ()) -> str:
    """The master playlist text; `start` is the URI of the variant to list first. With
    `steering`, every variant and I-frame stream once per pathway (hlsd.media.steering).
    `media`: the audio and subtitle renditions (hlsd.media.renditions); pass the variants
    through `with_renditions` first."""
    lines = ["#EXTM3U", f"#EXT-X-VERSION:{VERSION}"]
    if independent_segments:
        lines.append("#EXT-X-INDEPENDENT-SEGMENTS")
    if steering is not None:
        lines.append(steering.tag())
    routes = steering.routes if steering is not None else DIRECT
    ordered = playback_order(variants, start)
    captioned = any(v.captions for v in ordered)
    if captioned:  # one rendition: the 608 service CC1 carried inside the video
        lines.append(f'#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID="{CAPTIONS_GROUP}",'
                     'NAME="CC1",INSTREAM-ID="CC1",DEFAULT=YES,AUTOSELECT=YES')
    lines += [m.render(route) for route in routes for m in media]
    for route in routes:  # pathway by pathway, each in playback order
        for v in ordered:
            attrs = _common(v.bandwidth, v.average_bandwidth, v.codecs, v.resolution)
            if v.frame_rate is not None:
                attrs.append(f"FRAME-RATE={v.frame_rate:.3f}")
            # RFC 8216 §4.3.4.2: NONE on one variant means NONE on all of them.
            if v.captions:
                attrs.append(f'CLOSED-CAPTIONS="{CAPTIONS_GROUP}"')
            elif not captioned:
                attrs.append("CLOSED-CAPTIONS=NONE")
            attrs += [f'{kind}="{group_on(group, route)}"' for kind, group in
                      (("AUDIO", v.audio), ("SUBTITLES", v.subtitles)) if group is not None]
            lines += ["#EXT-X-STREAM-INF:" + ",".join(attrs + route.attrs(v.uri)),
                      route.uri(v.uri)]
    iframes = list(iframes)
    lines += [i.render(route) for route in routes for i in iframes]
    return "\n".join(lines) + "\n"
