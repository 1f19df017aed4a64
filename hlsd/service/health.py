"""Is every rung still producing segments? A pure function of timestamps.

The same verdict drives `/healthz` (200/503) and the systemd watchdog (pings stop
when it fails). All times are seconds on one monotonic clock, passed in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["STARTUP_GRACE", "HealthReport", "evaluate"]

# A rung that has not produced its first segment yet is given max_age plus this long
# after start: ffmpeg must start, probe its input (an RTMP or HTTP source can take a
# few seconds to connect) and reach the first keyframe before the first cut.
STARTUP_GRACE = 10.0


@dataclass(frozen=True)
class RungHealth:
    rung: str
    age: float | None  # seconds since its newest segment; None: none yet
    ok: bool


@dataclass(frozen=True)
class HealthReport:
    ok: bool
    stale: list[str]  # rungs that failed, in the order given
    max_age: float
    rungs: list[RungHealth] = field(default_factory=list)
    # What the ingest stage has on air (hlsd.ingest.stage.Ingest.state), when it owns the input
    input: dict[str, Any] | None = None

    @property
    def waiting(self) -> bool:
        """A listener input with no publisher: nothing to segment, nothing wrong."""
        return self.input is not None and self.input.get("on_air") == "waiting"

    @property
    def input_lost(self) -> bool:
        return self.input is not None and self.input.get("on_air") == "lost"

    def to_json(self) -> dict[str, Any]:
        """The /healthz body: status, the stale rungs by name, and each rung's age."""
        body: dict[str, Any] = {
            "status": "waiting" if self.waiting else "ok" if self.ok else "stale",
            "stale": list(self.stale),
            "max_age": self.max_age,
            "rungs": {r.rung: {"ok": r.ok, "age": None if r.age is None else round(r.age, 3)}
                      for r in self.rungs},
        }
        if self.stale:
            body["message"] = "no recent segment from " + ", ".join(self.stale)
            if self.input_lost:
                body["message"] = "input lost: " + body["message"]
        if self.input is not None:
            body["input"] = self.input
        return body


def evaluate(last_segment: Mapping[str, float | None], now: float, max_age: float,
             started: float, restarted: Mapping[str, float] | None = None) -> HealthReport:
    """Judge each rung by the time of its newest segment.

    `last_segment` maps rung → monotonic time of its newest segment (None: none yet);
    `max_age` is 3 x segment_length; `started` is when the rungs were started, and
    `restarted` overrides it for rungs a reload (re)started later.
    A rung is healthy when its newest segment is at most `max_age` old, or, before its
    first segment, while `now - started < max_age + STARTUP_GRACE`. No rungs: healthy.
    """
    rungs: list[RungHealth] = []
    for rung, last in last_segment.items():
        if last is None:
            since = (restarted or {}).get(rung, started)
            rungs.append(RungHealth(rung, None, now - since < max_age + STARTUP_GRACE))
        else:
            age = max(0.0, now - last)
            rungs.append(RungHealth(rung, age, age <= max_age))
    stale = [r.rung for r in rungs if not r.ok]
    return HealthReport(ok=not stale, stale=stale, max_age=max_age, rungs=rungs)
