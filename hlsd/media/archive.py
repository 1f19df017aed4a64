"""Recording as VOD: which wall-clock period a segment belongs to, the names of a period's
playlists, and its master. Pure.

Periods are aligned on the epoch (a 3600 s period runs 10:00–11:00 UTC). A part is what
one daemon run recorded of one period: the period's own name when the run saw the period
begin, else the period's name and the time the run started, so a restart mid-period
never writes over what an earlier run recorded there.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime

__all__ = ["PartName", "master_for_part", "period_start"]


def period_start(moment: float, period: float) -> float:
    """The start (epoch seconds) of the period `moment` falls in."""
    return math.floor(moment / period + 1e-9) * period


def _stamp(moment: float, fmt: str) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime(fmt)


class PartName:
    """The file names of one part: `<prefix>_<rung>_<period>[_<run>].m3u8` per rung and
    `<prefix>_<period>[_<run>].m3u8` for its master."""

    def __init__(self, prefix: str, period: float, run_started: float) -> None:
        self.prefix = prefix
        self.period = period
        self.run_started = run_started

    def tag(self, start: float) -> str:
        """The part's tag for the period starting at `start`."""
        tag = _stamp(start, "%Y%m%dT%H%M%SZ")
        if start < self.run_started - 1e-6:  # this run began within the period
            tag += _stamp(self.run_started, "_%H%M%S")
        return tag

    def variant(self, rung: str, tag: str) -> str:
        return f"{self.prefix}_{rung}_{tag}.m3u8"

    def master(self, tag: str) -> str:
        return f"{self.prefix}_{tag}.m3u8"


def master_for_part(master: str, names: dict[str, str]) -> str:
    """The live master with each variant (and rendition) playlist name replaced by its part
    in `names` (live name → part name), relative: the parts lie beside it wherever the
    live ones are served from. I-frame playlists and steering are left out (the recording
    has neither)."""
    lines = []
    for line in master.splitlines():
        if line.startswith(("#EXT-X-I-FRAME-STREAM-INF", "#EXT-X-CONTENT-STEERING")):
            continue
        for live, part in names.items():
            if not line.startswith("#") and line.endswith(live):
                line = part
            elif line.startswith("#EXT-X-MEDIA:"):
                line = re.sub(f'URI="[^"]*{re.escape(live)}"', f'URI="{part}"', line)
        lines.append(line)
    return "\n".join(lines) + "\n"
