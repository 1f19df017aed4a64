"""Exponential backoff with jitter, shared by encoder restarts and upload retries."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """Delays that start at `first`, double to `cap`, and reset after a healthy stretch."""

    first: float = 0.5
    cap: float = 30.0
    jitter: float = 0.2  # fraction of the delay, so many retrying destinations spread out
    healthy_after: float = 60.0
    _next: float = field(default=0.0, init=False)

    def __post_init__(self) -> None:
        self._next = self.first

    def next_delay(self, ran_for: float = 0.0) -> float:
        """The delay before the next attempt; `ran_for` is how long the last one lasted."""
        if ran_for >= self.healthy_after:
            self._next = self.first
        delay = self._next
        self._next = min(self.cap, self._next * 2)
        spread = delay * self.jitter
        return max(0.0, delay + random.uniform(-spread, spread))

    def reset(self) -> None:
        self._next = self.first
