"""How a destination publishes: the playlists' fixed target duration, their window, and
what follows from them (how many segments a lane may hold before the oldest is skipped)."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class PublishSettings:
    target_duration: int
    window: int  # index_segment_count
    segment_length: float
    url_prefix: str
    iframes: bool = False  # publish an I-frame playlist per video rung
    locked: bool = False  # timeline: locked (hlsd.media.playlist.MediaPlaylist.locked)
    dvr_window: float = 0.0  # seconds kept behind the live edge (hlsd.media.dvr); 0: none

    @property
    def lane_capacity(self) -> int:
        if self.window == 0:
            return 100_000  # keep-all playlists: nothing may be skipped
        return max(self.window, math.ceil(3 * self.target_duration / self.segment_length) + 1)
