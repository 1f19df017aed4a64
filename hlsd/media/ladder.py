"""The bitrate ladder as the master playlist describes it: measured, not typed in (pure)."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from hlsd.config.model import Pathway, Rendition
from hlsd.media.master import IFrameVariant, Variant, render_master, with_renditions
from hlsd.media.renditions import AlternateMedia
from hlsd.media.steering import Steering

MATERIAL_CHANGE = 0.10  # republish the master only when a bandwidth moves more than this


@dataclass(frozen=True)
class RungMedia:
    """What a rung's stream is, as the segmenter found it."""

    codecs: str  # RFC 6381 list, e.g. "avc1.64001f,mp4a.40.2"
    resolution: tuple[int, int] | None = None  # video only
    frame_rate: float | None = None  # video only
    captions: bool = False  # CEA-608/708 in the video's SEI
    channels: int | None = None  # audio channels


@dataclass
class RungStats:
    """One rung's measured figures over the last `window` segments."""

    name: str
    configured_bandwidth: int | None
    window: int
    media: RungMedia | None = None
    rendition: Rendition | None = None  # listed with #EXT-X-MEDIA, not as a variant
    samples: deque[tuple[int, float]] = field(default_factory=deque)  # (bytes, seconds)
    iframe_samples: deque[tuple[int, float]] = field(default_factory=deque)  # keyframes only
    warned_over_floor: bool = False

    def add(self, nbytes: int, duration: float, iframe_bytes: int | None = None) -> None:
        if duration <= 0:
            return
        for samples, value in ((self.samples, nbytes), (self.iframe_samples, iframe_bytes)):
            if value is None:
                continue
            samples.append((value, duration))
            while len(samples) > self.window:
                samples.popleft()

    @property
    def peak(self) -> int:
        return _peak(self.samples)

    @property
    def average(self) -> int:
        return _average(self.samples)

    @property
    def bandwidth(self) -> int:
        return max(self.peak, self.configured_bandwidth or 0)

    def over_floor(self) -> bool:
        """True once when the measured peak exceeds the configured bandwidth by > 10 %."""
        floor = self.configured_bandwidth
        if floor and not self.warned_over_floor and self.peak > floor * 1.1:
            self.warned_over_floor = True
            return True
        return False


class Ladder:
    """The ladder's rungs, their measured figures, and the master playlist they make."""

    def __init__(self, index_prefix: str, window: int) -> None:
        self.index_prefix = index_prefix
        self.window = max(window, 6)
        self.rungs: dict[str, RungStats] = {}
        self.start_rung: str | None = None  # listed first; None: hlsd's rule (playback_order)
        self.steering: Steering | None = None  # with pathways: content steering
        self._published: dict[str, Variant] = {}
        self._published_iframes: dict[str, IFrameVariant] = {}

    def set_rungs(self, configured: dict[str, int | None], start_rung: str | None = None,
                  renditions: Mapping[str, Rendition] | None = None) -> None:
        """Keep stats of rungs that stay; a reload may add or remove rungs, or name another
        rung to start with. `renditions`: the rungs listed as renditions, not variants."""
        self.start_rung = start_rung if start_rung in configured else None
        self.rungs = {name: self.rungs.get(name) or RungStats(name, bw, self.window)
                      for name, bw in configured.items()}
        for name, bw in configured.items():
            self.rungs[name].configured_bandwidth = bw
            self.rungs[name].rendition = (renditions or {}).get(name)
        self._published = {k: v for k, v in self._published.items() if k in self.rungs}
        self._published_iframes = {k: v for k, v in self._published_iframes.items()
                                   if k in self.rungs}

    def set_pathways(self, pathways: Sequence[Pathway]) -> None:
        """Content steering through `pathways`, in priority order (none: off). The master
        and the steering manifest change with them; destinations store both anew."""
        self.steering = Steering(tuple(pathways), self.steering_name) if pathways else None

    def describe(self, rung: str, media: RungMedia) -> None:
        """The segmenter announced (new) stream parameters for `rung`."""
        stats = self.rungs.get(rung)
        if stats is not None:
            stats.media = media

    def measure(self, rung: str, nbytes: int, duration: float,
                iframe_bytes: int | None = None) -> bool:
        """A segment of `rung` was cut (with `iframe_bytes` in its keyframes, when it has
        any); True once when its peak outgrows the configured bandwidth (worth a
        warning: players may pick a rung they cannot sustain)."""
        stats = self.rungs.get(rung)
        if stats is None:
            return False
        stats.add(nbytes, duration, iframe_bytes)
        return stats.over_floor()

    def iframe_name(self, rung: str) -> str:
        return f"{self.index_prefix}_{rung}_iframes.m3u8"

    def variant_name(self, rung: str) -> str:
        return f"{self.index_prefix}_{rung}.m3u8"

    @property
    def master_name(self) -> str:
        return f"{self.index_prefix}.m3u8"

    @property
    def steering_name(self) -> str:
        """The steering manifest, beside the master: live.m3u8 → live-steering.json."""
        return f"{self.index_prefix}-steering.json"

    def steering_text(self) -> str | None:
        """The steering manifest (JSON), or None without pathways."""
        return self.steering.manifest() if self.steering is not None else None

    def _variant(self, stats: RungStats) -> Variant:
        media = stats.media
        return Variant(
            uri=self.variant_name(stats.name), bandwidth=stats.bandwidth,
            average_bandwidth=stats.average or None,
            codecs=(media.codecs or None) if media else None,
            resolution=media.resolution if media else None,
            frame_rate=media.frame_rate if media else None,
            captions=media.captions if media else False)

    def _iframe_variant(self, stats: RungStats) -> IFrameVariant:
        media = stats.media
        video = media.codecs.split(",")[0] if media else None
        return IFrameVariant(
            uri=self.iframe_name(stats.name), bandwidth=max(1, _peak(stats.iframe_samples)),
            average_bandwidth=_average(stats.iframe_samples) or None, codecs=video,
            resolution=media.resolution if media else None)

    def master_text(self, iframe_rungs: set[str] | frozenset[str] = frozenset()) -> str | None:
        """The master playlist, or None until every rung has been measured once.

        `iframe_rungs`: the rungs whose I-frame playlist the master may name (published
        at that destination); only video rungs with keyframes measured get one.

        Attributes are held steady: BANDWIDTH and AVERAGE-BANDWIDTH only move when they
        change materially, so players are not made to re-read the master every segment.
        """
        if not self.rungs or any(s.media is None or not s.samples
                                 for s in self.rungs.values()):
            return None
        for name, stats in self.rungs.items():
            fresh = self._variant(stats)
            old = self._published.get(name)
            if old is None or _material(old, fresh):
                self._published[name] = fresh
        iframes = []
        for name, stats in self.rungs.items():
            if name in iframe_rungs and stats.iframe_samples and stats.media \
                    and stats.media.resolution:
                iframe = self._iframe_variant(stats)
                held = self._published_iframes.get(name)
                if held is None or _material(held, iframe):
                    self._published_iframes[name] = iframe
                iframes.append(self._published_iframes[name])
        start = self.variant_name(self.start_rung) if self.start_rung else None
        variants = [self._published[n] for n, s in self.rungs.items() if s.rendition is None]
        media = [_alternate(self._published[n], s) for n, s in self.rungs.items()
                 if s.rendition is not None]
        return render_master(with_renditions(variants, media), start=start, iframes=iframes,
                             steering=self.steering, media=media)


def _alternate(variant: Variant, stats: RungStats) -> AlternateMedia:
    """A rendition rung's EXT-X-MEDIA, with its figures as held steady for the master."""
    r = stats.rendition
    assert r is not None
    return AlternateMedia(
        type="AUDIO" if r.type == "audio" else "SUBTITLES", uri=variant.uri,
        language=r.language, name=r.name, default=r.default, codecs=variant.codecs,
        channels=stats.media.channels if stats.media and r.type == "audio" else None,
        bandwidth=variant.bandwidth, average_bandwidth=variant.average_bandwidth)


def _material(old: Variant | IFrameVariant, new: Variant | IFrameVariant) -> bool:
    """A change players should hear of: other media, or BANDWIDTH or AVERAGE-BANDWIDTH off
    by more than 10 % (Apple's authoring spec 1.28/1.29 judge live streams by these)."""
    if (old.codecs, old.resolution, getattr(old, "frame_rate", None),
            getattr(old, "captions", False)) != (
            new.codecs, new.resolution, getattr(new, "frame_rate", None),
            getattr(new, "captions", False)):
        return True
    return (_moved(old.bandwidth, new.bandwidth)
            or _moved(old.average_bandwidth or 0, new.average_bandwidth or 0))


def _moved(old: int, new: int) -> bool:
    return abs(new - old) > MATERIAL_CHANGE * old


def _peak(samples: deque[tuple[int, float]]) -> int:
    return max((int(b * 8 / d) for b, d in samples), default=0)


def _average(samples: deque[tuple[int, float]]) -> int:
    total = sum(d for _, d in samples)
    return int(sum(b for b, _ in samples) * 8 / total) if total else 0
