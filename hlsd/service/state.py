"""The state that makes a restart continue the stream: numbering, windows, pending deletes."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from hlsd.media.breakstate import BreakState
from hlsd.publish.keys import KeyState
from hlsd.publish.state import DestinationState

log = structlog.get_logger()

STATE_FILE = "hlsd-state.json"
VERSION = 1


@dataclass
class DaemonState:
    next_seq: int = 0  # the number of the next new segment: never goes back
    destinations: dict[str, DestinationState] = field(default_factory=dict)
    keys: KeyState = field(default_factory=KeyState)
    breaks: BreakState = field(default_factory=BreakState)  # ad breaks to go on with

    def to_json(self) -> dict[str, Any]:
        return {"version": VERSION, "next_seq": self.next_seq,
                "destinations": {n: d.to_json() for n, d in self.destinations.items()},
                "keys": self.keys.to_json(), "breaks": self.breaks.to_json()}

    @classmethod
    def from_json(cls, data: Any) -> DaemonState:
        """Raises ValueError for anything this version did not write."""
        if not isinstance(data, dict) or data.get("version") != VERSION:
            raise ValueError("another version's state")
        next_seq = data.get("next_seq", 0)
        dests = data.get("destinations", {})
        if not isinstance(next_seq, int) or next_seq < 0 or not isinstance(dests, dict):
            raise ValueError("next_seq or destinations malformed")
        return cls(next_seq, {str(n): DestinationState.from_json(d) for n, d in dests.items()},
                   KeyState.from_json(data.get("keys", {})),
                   BreakState.from_json(data.get("breaks", {})))


class StateStore:
    def __init__(self, temp_dir: Path) -> None:
        self.path = temp_dir / STATE_FILE

    def load(self) -> DaemonState:
        try:
            return DaemonState.from_json(json.loads(self.path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return DaemonState()
        except (OSError, ValueError) as exc:  # UnicodeDecodeError is a ValueError
            # Losing continuity beats refusing to stream; say so loudly.
            log.error("state file unreadable; numbering restarts", path=str(self.path),
                      error=str(exc))
            return DaemonState()

    def save(self, state: DaemonState) -> None:
        """Atomic: a crash leaves the old file or the new one, never half of either."""
        tmp = self.path.with_suffix(".tmp")
        data = json.dumps(state.to_json(), separators=(",", ":"))
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
