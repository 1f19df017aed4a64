"""What the origin asks the running stream (the service answers), and the part of it fit
for viewers: the player page's figures at /stream.json, on the viewers' port, while the
whole of it (/info.json, /metrics, /healthz) may live on the admin listener."""

from __future__ import annotations

from typing import Any, Protocol

__all__ = ["VIEWER_FIGURES", "StreamStatus", "stream_figures"]

# What a viewer may read of /info.json: the stream's shape. Not the input (its URL), the
# destinations, or the daemon's own figures.
VIEWER_FIGURES = ("master", "segment_length", "target_duration", "low_latency",
                  "part_target", "segments", "rungs")


class StreamStatus(Protocol):
    """What the origin reports about the running stream (the service implements it)."""

    def health(self) -> tuple[bool, dict[str, Any]]:
        """(healthy, the /healthz body)."""

    def info(self) -> dict[str, Any]:
        """The live figures of /info.json; `master` names the master playlist."""

    def metrics(self) -> tuple[bytes, str]:
        """The /metrics body and its Content-Type."""


def stream_figures(status: StreamStatus) -> dict[str, Any]:
    """The /stream.json body: the viewer-safe figures of /info.json, and the verdict of
    /healthz without its details (`status`: ok, stale or waiting; a `message` when not ok)."""
    info = status.info()
    ok, health = status.health()
    figures = {key: info[key] for key in VIEWER_FIGURES if key in info}
    verdict: dict[str, Any] = {"ok": ok, "status": health.get("status") or
                               ("ok" if ok else "stale")}
    if isinstance(health.get("message"), str):
        verdict["message"] = health["message"]
    figures["health"] = verdict
    return figures
