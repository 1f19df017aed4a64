"""Prometheus metrics of one daemon, in a registry of its own.

A private CollectorRegistry (never prometheus-client's global one) lets tests and a
reload build as many `Metrics` as they like without "duplicated timeseries" errors.
The daemon reports events (`segment`, `upload`, ...); `render()` is the /metrics body.
Label values are profile names from the config, which never hold secrets.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from contextlib import suppress

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

__all__ = ["UPLOAD_KINDS", "Metrics"]

UPLOAD_KINDS = ("segment", "playlist")
# Segment lengths are configured from 0.5 s to 60 s; buckets bracket the usual 2-10 s.
DURATION_BUCKETS = (0.5, 1, 2, 3, 4, 5, 6, 8, 10, 15, 30, 60)
# Uploads range from a local rename (sub-millisecond) to a slow remote server.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class _SegmentAge(Collector):
    """hlsd_newest_segment_age_seconds, computed at scrape time so it grows while idle."""

    def __init__(self, last: dict[str, float], clock: Callable[[], float]) -> None:
        self._last = last
        self._clock = clock

    def collect(self) -> Iterable[Metric]:
        family = GaugeMetricFamily(
            "hlsd_newest_segment_age_seconds",
            "Seconds since the newest segment of the rung was cut", labels=["rung"])
        now = self._clock()
        for rung, last in sorted(self._last.items()):
            family.add_metric([rung], max(0.0, now - last))
        yield family


class Metrics:
    """Every metric hlsd exports; methods are cheap and never raise."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        """`clock` must be the monotonic clock the daemon uses (injectable for tests)."""
        self.registry = CollectorRegistry(auto_describe=True)
        self._clock = clock
        self._last_segment: dict[str, float] = {}
        r = self.registry
        self._segments = Counter("hlsd_segments", "Segments cut, per rung",
                                 ["rung"], registry=r)
        self._duration = Histogram("hlsd_segment_duration_seconds",
                                   "Measured duration of each segment", ["rung"],
                                   buckets=DURATION_BUCKETS, registry=r)
        self._bytes = Counter("hlsd_segment_bytes", "Bytes of segments cut, per rung",
                              ["rung"], registry=r)
        self._restarts = Counter("hlsd_encoder_restarts", "Encoder (ffmpeg) restarts",
                                 ["rung"], registry=r)
        self._gaps = Counter("hlsd_gap_segments", "Segments a rung could not produce, "
                             "listed as EXT-X-GAP", ["rung"], registry=r)
        self._late = Counter("hlsd_late_segments_dropped", "Segments that came after a gap "
                             "had taken their number: deleted, never listed", ["rung"],
                             registry=r)
        self._corrupt = Counter("hlsd_corrupt_packets",
                                "TS packets the segmenter skipped as corrupt", ["rung"],
                                registry=r)
        self._scte35_errors = Counter("hlsd_scte35_errors", "SCTE-35 sections of the input "
                                      "skipped: bad CRC, truncated, encrypted, unplaceable",
                                      registry=r)
        self._upload = Histogram("hlsd_upload_seconds",
                                 "Time to store one object at a destination",
                                 ["destination", "kind"], buckets=LATENCY_BUCKETS,
                                 registry=r)
        self._failures = Counter("hlsd_upload_failures", "Failed upload attempts",
                                 ["destination"], registry=r)
        self._skipped = Counter("hlsd_segments_skipped",
                                "Segments that left the window before they could be "
                                "uploaded", ["destination"], registry=r)
        self._queue = Gauge("hlsd_upload_queue_depth", "Objects waiting to be uploaded",
                            ["destination"], registry=r)
        self._on_air = Gauge("hlsd_input_on_air", "1 for what the encoders get now: "
                             "primary, backup N, slate, lost or waiting (for a publisher)",
                             ["input"], registry=r)
        self._on_air_labels: set[str] = set()
        self._switches = Counter("hlsd_input_switches", "Changes of what is on air",
                                 registry=r)
        r.register(_SegmentAge(self._last_segment, clock))

    # -- rungs -------------------------------------------------------------------------

    def segment(self, rung: str, duration: float, nbytes: int) -> None:
        """A segment was cut (call when the segmenter reports it)."""
        self._segments.labels(rung).inc()
        self._duration.labels(rung).observe(duration)
        self._bytes.labels(rung).inc(nbytes)
        self._last_segment[rung] = self._clock()

    def encoder_restart(self, rung: str) -> None:
        self._restarts.labels(rung).inc()

    def gap(self, rung: str) -> None:
        self._gaps.labels(rung).inc()

    def late_segment(self, rung: str) -> None:
        self._late.labels(rung).inc()

    def scte35_errors(self, n: int) -> None:
        self._scte35_errors.inc(n)

    def corrupt_packets(self, rung: str, n: int) -> None:
        if n > 0:
            self._corrupt.labels(rung).inc(n)

    def newest_segment_at(self, rung: str) -> float | None:
        """When the rung's newest segment was cut, on the daemon's monotonic clock: the
        one record /metrics, /healthz and the systemd watchdog all read."""
        return self._last_segment.get(rung)

    def newest_segment_age(self, rung: str) -> float | None:
        """Seconds since the rung's newest segment (None: none yet), as exported."""
        last = self._last_segment.get(rung)
        return None if last is None else max(0.0, self._clock() - last)

    def forget_rung(self, rung: str) -> None:
        """A reload removed the rung: drop its series so they stop being exported."""
        self._last_segment.pop(rung, None)
        for metric in (self._segments, self._duration, self._bytes, self._restarts,
                       self._corrupt, self._gaps, self._late):
            _remove(metric, rung)

    # -- input -------------------------------------------------------------------------

    def input_on_air(self, label: str, switched: bool) -> None:
        """The ingest stage put `label` on air (hlsd.ingest.stage.IngestReport)."""
        for shown in self._on_air_labels - {label}:
            self._on_air.labels(shown).set(0)
        self._on_air_labels.add(label)
        self._on_air.labels(label).set(1)
        if switched:
            self._switches.inc()

    # -- destinations ------------------------------------------------------------------

    def upload(self, destination: str, kind: str, seconds: float) -> None:
        """One object stored; `kind` is "segment" or "playlist"."""
        self._upload.labels(destination, kind).observe(seconds)

    def upload_failure(self, destination: str) -> None:
        self._failures.labels(destination).inc()

    def skipped(self, destination: str, n: int = 1) -> None:
        if n > 0:
            self._skipped.labels(destination).inc(n)

    def queue_depth(self, destination: str, n: int) -> None:
        self._queue.labels(destination).set(n)

    def forget_destination(self, name: str) -> None:
        """A reload removed the destination: drop its series."""
        for metric in (self._failures, self._skipped, self._queue):
            _remove(metric, name)
        for kind in UPLOAD_KINDS:
            _remove(self._upload, name, kind)

    # -- export ------------------------------------------------------------------------

    def render(self) -> tuple[bytes, str]:
        """The exposition text and its Content-Type, for GET /metrics."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


def _remove(metric: MetricWrapperBase, *labels: str) -> None:
    # Older prometheus-client raises KeyError for a label set never reported.
    with suppress(KeyError):
        metric.remove(*labels)
