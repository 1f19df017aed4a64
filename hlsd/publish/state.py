"""What one destination must remember across a restart: its playlists' windows (so the
media sequence never goes back), its pending deletions, its time-shift index."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hlsd.media.dvr import DvrIndex
from hlsd.media.playlist import MediaPlaylist, PlaylistError
from hlsd.media.retention import Retention


@dataclass
class DestinationState:
    playlists: dict[str, MediaPlaylist] = field(default_factory=dict)  # rung -> playlist
    retention: Retention = field(default_factory=Retention)
    dvr: dict[str, DvrIndex] = field(default_factory=dict)  # rung -> time-shift index

    def to_json(self) -> dict[str, Any]:
        state = {"playlists": {r: p.to_dict() for r, p in self.playlists.items()},
                 "retention": self.retention.to_dict()}
        if self.dvr:
            state["dvr"] = {r: i.to_dict() for r, i in self.dvr.items()}
        return state

    @classmethod
    def from_json(cls, data: Any) -> DestinationState:
        """Raises ValueError for anything that is not a state this version wrote."""
        if not isinstance(data, dict) or not isinstance(data.get("playlists", {}), dict):
            raise ValueError("destination state is not an object with playlists")
        try:
            playlists = {str(r): MediaPlaylist.from_dict(p)
                         for r, p in data.get("playlists", {}).items()}
        except PlaylistError as exc:
            raise ValueError(str(exc)) from None
        retention = (Retention.from_dict(data["retention"]) if "retention" in data
                     else Retention())
        dvr = data.get("dvr", {})
        if not isinstance(dvr, dict):
            raise ValueError("destination state: dvr is not an object")
        return cls(playlists, retention, {str(r): DvrIndex.from_dict(i) for r, i in dvr.items()})
