"""What one destination's playlists list: entries added as segments are stored, what left
them (deleted only after the republished playlist and the §6.2.2 grace), which variants
are published, and which init segments are stored there."""

from __future__ import annotations

import time
from dataclasses import replace

from hlsd.media.dvr import DvrIndex
from hlsd.media.playlist import Entry, MediaPlaylist
from hlsd.media.retention import Peaks, Retention
from hlsd.publish.segment import SegmentFile
from hlsd.publish.settings import PublishSettings
from hlsd.publish.state import DestinationState

Removed = list[tuple[Entry, float]]  # (entry, longest duration of a playlist that had it)


class Listing:
    def __init__(self, settings: PublishSettings, state: DestinationState) -> None:
        self.settings = settings
        self.playlists: dict[str, MediaPlaylist] = {}
        self.published_variants: set[str] = set()
        self.published_iframes: set[str] = set()
        self.inits: set[str] = set()  # init segments stored and not being deleted
        # Rungs whose playlist gained segments not yet published: a stop waits for them,
        # or the last segment would be stored but named by no playlist.
        self.unpublished: set[str] = set()
        self._removed: dict[str, Removed] = {}
        self._peaks: dict[str, Peaks] = {}  # rung -> the longest playlists that listed what
        # dvr_window: every entry also here until it is that old; deleted only then.
        self.dvr: dict[str, DvrIndex] = state.dvr if settings.dvr_window else {}
        for rung, playlist in state.playlists.items():
            if playlist.ended or playlist.target_duration != settings.target_duration:
                continue  # a finished VOD or another target duration: a new playlist
            self.playlists[rung] = replace(playlist, window=settings.window,
                                           url_prefix=settings.url_prefix,
                                           locked=settings.locked)
            self.published_variants.add(rung)
            if playlist.entries:  # their history is lost: the playlist's longest ever
                self._peaks[rung] = peaks = Peaks()
                peaks.listed(playlist.entries[-1].seq,
                             max(playlist.duration, playlist.longest_duration))
        if state.dvr and not settings.dvr_window:  # the window was turned off: let go
            self._release_dvr(state)

    def snapshot(self, retention: Retention) -> DestinationState:
        # Entries that left a playlist not yet republished still need deleting later.
        pending = Retention.from_dict(retention.to_dict())
        now = time.time()
        for removed in self._removed.values():
            for entry, window in removed:
                pending.schedule([entry], window, now)
        return DestinationState(dict(self.playlists), pending, dict(self.dvr))

    def last_seq(self) -> int:
        return max((p.entries[-1].seq for p in self.playlists.values() if p.entries),
                   default=-1)

    def last_seq_of(self, rung: str) -> int:
        playlist = self.playlists.get(rung)
        return playlist.entries[-1].seq if playlist and playlist.entries else -1

    def add_rung(self, rung: str) -> None:
        self.playlists.setdefault(rung, MediaPlaylist(
            target_duration=self.settings.target_duration, window=self.settings.window,
            url_prefix=self.settings.url_prefix, locked=self.settings.locked))

    def remove_rung(self, rung: str) -> None:
        """Its playlist stays where it is; the master no longer names it."""
        self.published_variants.discard(rung)
        self.published_iframes.discard(rung)
        self.unpublished.discard(rung)

    def set_window(self, window: int) -> None:
        self.settings = replace(self.settings, window=window)
        for playlist in self.playlists.values():
            playlist.window = window

    def set_dvr_window(self, window: float) -> None:
        """Another non-zero time-shift window: the next segment trims to it."""
        self.settings = replace(self.settings, dvr_window=window)

    def add(self, seg: SegmentFile) -> Entry:
        """List a stored segment (raises PlaylistError when its playlist cannot)."""
        playlist = self.playlists[seg.rung]
        before = playlist.duration
        entry = entry_of(seg, seg.discontinuity and bool(playlist.entries))
        removed = playlist.add(entry)
        self.unpublished.add(seg.rung)
        if self.settings.dvr_window:
            return self._add_dvr(seg.rung, playlist, before)
        # Each waits for the longest playlist that ever listed it (§6.2.2), not the one it
        # left: after a stall that one may be shorter than those clients still play.
        peaks = self._peaks.setdefault(seg.rung, Peaks())
        gone = [(e, max(before, peaks.longest(e.seq))) for e in removed]
        peaks.listed(entry.seq, playlist.duration)
        # An init segment no listed entry needs any more goes with its last segment; every
        # playlist that named one of its segments named it.
        listed = {e.map_name for e in playlist.entries}
        inits = {e.map_name for e in removed if e.map_name and e.map_name not in listed}
        self.inits -= inits
        window = max((w for _, w in gone), default=before)
        gone += [(Entry(seq=entry.seq, name=name, duration=0.0), window)
                 for name in sorted(inits)]
        self._removed.setdefault(seg.rung, []).extend(gone)
        return entry

    def _add_dvr(self, rung: str, playlist: MediaPlaylist, before: float) -> Entry:
        """Time-shift: what leaves is what the index lets go of (older than the window and
        out of the live playlist), init segments with their index's last entry naming them.
        A time-shift playlist may be loaded just before its first entries leave: they
        then wait for the usual grace, that of the longest live playlist."""
        entry = playlist.entries[-1]
        index = self.dvr.setdefault(rung, DvrIndex())
        index.add(entry)
        old, inits = index.trim(self.settings.dvr_window, playlist.media_sequence)
        window = max(before, playlist.longest_duration)
        gone = [(e, window) for e in old]
        self.inits -= set(inits)
        gone += [(Entry(seq=entry.seq, name=name, duration=0.0), window) for name in inits]
        self._removed.setdefault(rung, []).extend(gone)
        return entry

    def _release_dvr(self, state: DestinationState) -> None:
        """Entries a former time-shift window kept beyond the live playlists go now."""
        for rung, index in state.dvr.items():
            playlist = self.playlists.get(rung)
            first = playlist.media_sequence if playlist else float("inf")
            window = playlist.longest_duration if playlist else 0.0
            self._removed[rung] = [(e, window) for e in index.entries() if e.seq < first]

    def published(self, rung: str) -> Removed:
        """The variant of `rung` was published: what left it may now be scheduled."""
        self.unpublished.discard(rung)  # only this rung's lane worker adds to it
        self.published_variants.add(rung)
        return self._removed.pop(rung, [])


def entry_of(seg: SegmentFile, discontinuity: bool) -> Entry:
    return Entry(seq=seg.seq, name=seg.name, duration=seg.duration,
                 discontinuity=discontinuity, program_date_time=seg.program_date_time,
                 independent=seg.independent, map_name=seg.init.name if seg.init else None,
                 key=seg.key.tag if seg.key else None, pts=seg.pts, iframes=seg.keyframes,
                 psi=seg.psi, gap=seg.gap, marks=seg.marks)
