"""What the running stream looks like from outside: health (for /healthz and the systemd
watchdog), the live figures of /info.json, the STATUS= line and the /metrics text."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from typing import Any

from hlsd.encode.rungs import Rungs
from hlsd.media.ladder import Ladder
from hlsd.publish.destinations import DestinationSet
from hlsd.publish.intake import Intake
from hlsd.service.health import HealthReport, evaluate
from hlsd.service.metrics import Metrics
from hlsd.service.notify import format_status


class StreamStatus:
    """Reads the pipeline's parts; changes nothing. The newest-segment times are the
    Metrics' (one clock for /metrics, /healthz and the watchdog)."""

    def __init__(self, rungs: Rungs, ladder: Ladder, destinations: DestinationSet,
                 intake: Intake, metrics: Metrics, segment_length: float,
                 target_duration: int, part_target: float | None = None) -> None:
        self._rungs = rungs
        self._ladder = ladder
        self._destinations = destinations
        self._intake = intake
        self._metrics = metrics
        self._segment_length = segment_length
        self._target_duration = target_duration
        # LL-HLS as the origin serves it: fixed at start (a reload does not change it)
        self._part_target = part_target
        self._started = time.monotonic()

    def reconfigure(self, segment_length: float) -> None:
        """A reload's segment length: the health limit follows it."""
        self._segment_length = segment_length

    def report(self) -> HealthReport:
        restarted = self._rungs.started_at
        last: dict[str, float | None] = {}
        for rung in self._rungs.names():
            at = self._metrics.newest_segment_at(rung)
            # A segment from before the rung's (re)start says nothing about the new encoder.
            last[rung] = at if at is not None and at >= restarted.get(rung, 0.0) else None
        report = evaluate(last, time.monotonic(), 3 * self._segment_length, self._started,
                          restarted)
        ingest = self._rungs.ingest
        if ingest is None:
            return report
        report = replace(report, input=ingest.state())
        # Waiting for a publisher is the stream's normal state before it begins.
        return replace(report, ok=True, stale=[]) if report.waiting else report

    def daemon_ok(self) -> bool:
        """For the systemd watchdog: the stream is healthy, or only its input is missing
        (a restart of hlsd would not bring it back)."""
        report = self.report()
        return report.ok or report.input_lost

    # -- the origin's StreamStatus -----------------------------------------------------------
    def health(self) -> tuple[bool, dict[str, Any]]:
        report = self.report()
        return report.ok, report.to_json()

    def metrics(self) -> tuple[bytes, str]:
        return self._metrics.render()

    def info(self) -> dict[str, Any]:
        """Live figures for the player page (/info.json)."""
        return {
            "master": self._ladder.master_name,
            "segment_length": self._segment_length,
            "target_duration": self._target_duration,
            "low_latency": self._part_target is not None,  # the player's lowLatencyMode
            "part_target": self._part_target,
            "segments": self._intake.segments,
            "input": self._rungs.ingest.state() if self._rungs.ingest is not None else None,
            "rungs": [{"name": s.name, "bandwidth": s.bandwidth, "average": s.average,
                       "codecs": s.media.codecs if s.media else None,
                       "resolution": (f"{s.media.resolution[0]}x{s.media.resolution[1]}"
                                      if s.media and s.media.resolution else None)}
                      for s in self._ladder.rungs.values()],
            "destinations": {d.name: {"skipped": d.skipped, "queued": d.queued}
                             for d in self._destinations},
            "asyncio_tasks": len(asyncio.all_tasks()),  # flat over hours: bench/soak.py
        }

    def line(self) -> str:
        """STATUS=: rungs producing segments in time, and the newest segment's age."""
        report = self.report()
        up = sum(1 for r in report.rungs if r.ok and r.age is not None)
        ages = [r.age for r in report.rungs if r.age is not None]
        return format_status(up, len(report.rungs), min(ages) if ages else None)
