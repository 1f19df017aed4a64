"""The state that makes a restart continue the stream: numbering, windows, pending deletes."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import structlog

log = structlog.get_logger()

STATE_FILE = "hlsd-state.json"
VERSION = 1


class StateStore:
    def __init__(self, temp_dir: Path) -> None:
        self.path = temp_dir / STATE_FILE

    def load(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            # Losing continuity beats refusing to stream; say so loudly.
            log.error("state file unreadable; numbering restarts", path=str(self.path),
                      error=str(exc))
            return {}
        if not isinstance(data, dict) or data.get("version") != VERSION:
            log.error("state file of another version ignored", path=str(self.path))
            return {}
        return data

    def save(self, state: dict[str, Any]) -> None:
        """Atomic: a crash leaves the old file or the new one, never half of either."""
        tmp = self.path.with_suffix(".tmp")
        data = json.dumps({"version": VERSION, **state}, separators=(",", ":"))
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
