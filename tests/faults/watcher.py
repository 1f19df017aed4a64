"""An RFC 8216 watcher for fault-injection tests: what a player would see, poll after poll.

A background thread reads every destination's master and variant playlists every
`POLL` seconds, straight from where the destination keeps them (a copy directory, an
FTP or SFTP server's root on disk, moto's in-process S3 store), so polling goes on
while a server is down. At every poll, for every playlist:

- `tests.hlscheck.MediaPlaylistWatcher` rules: every listed segment (but a gap) exists at
  that destination, the media sequence never goes back, an MSN never changes its URI or
  EXTINF, every EXTINF rounds to at most the target duration, discontinuity numbers
  stay consistent; the master is valid and names only variants that exist there;
- across the whole run (daemon restarts included): a segment name always stands for
  the same sequence number.

A broken rule is recorded in `errors` (the thread never raises); tests call
`check()` while they wait and at the end. The figures each test reports come from
`Track`: segments seen, sequence gaps, discontinuities, the longest time without a
new segment, and `first_after()` for recovery times.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.daemon_util import wait_for
from tests.hlscheck import MediaPlaylistWatcher, check_master, parse_media_text

POLL = 0.2  # seconds between polls


@dataclass(frozen=True)
class Store:
    """Where one destination keeps its files, as the watcher reads them."""

    name: str
    read: Callable[[str], str | None]  # object name -> its text, None when missing
    exists: Callable[[str], bool]


def directory_store(name: str, root: Path) -> Store:
    """A copy destination, or an FTP/SFTP server's root directory on this machine."""

    def read(obj: str) -> str | None:
        try:
            return (root / obj).read_text()
        except FileNotFoundError:
            return None

    return Store(name, read, lambda obj: (root / obj).is_file())


def s3_store(name: str, bucket: str, prefix: str) -> Store:
    """Objects in moto's in-process S3 backend: readable while the HTTP server is down."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    def key(obj: str) -> Any:
        backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
        found = backend.buckets.get(bucket)
        return None if found is None else found.keys.get(prefix + obj)

    def read(obj: str) -> str | None:
        found = key(obj)
        return None if found is None else bytes(found.value).decode()

    return Store(name, read, lambda obj: key(obj) is not None)


@dataclass(frozen=True)
class Seen:
    seq: int
    uri: str
    duration: float
    # A discontinuity before this segment, as a client polling the playlist learns it: an
    # #EXT-X-DISCONTINUITY tag, or a discontinuity number above the previous segment's
    # (the tag itself may have left the window before a catching-up destination published).
    discontinuity: bool
    number: int  # its discontinuity number (RFC 8216 §6.2.2)
    at: float  # monotonic time of the first poll that listed it
    gap: bool = False  # listed as #EXT-X-GAP (its rung could not produce it)


@dataclass
class Track:
    """One variant playlist at one destination, across the whole test."""

    store: str
    rung: str
    checker: MediaPlaylistWatcher
    seen: dict[int, Seen] = field(default_factory=dict)
    order: list[Seen] = field(default_factory=list)  # new segments, in order of appearance
    gaps: list[tuple[float, int, int]] = field(default_factory=list)  # (when, last, next)
    polls: int = 0
    last_poll: float = 0.0

    @property
    def newest(self) -> int:
        return self.order[-1].seq if self.order else -1

    @property
    def missing(self) -> int:
        """Sequence numbers this destination never listed, between its first and newest."""
        return sum(new - last - 1 for _, last, new in self.gaps)

    def discontinuities(self, after: float = 0.0) -> list[Seen]:
        return [s for s in self.order if s.discontinuity and s.at > after]

    def first_after(self, moment: float, *, discontinuity: bool = False) -> Seen | None:
        """The first segment that appeared after `moment` (with a DISCONTINUITY tag)."""
        for s in self.order:
            if s.at > moment and (s.discontinuity or not discontinuity):
                return s
        return None

    def longest_wait(self, start: float = 0.0, end: float = float("inf")) -> float:
        """The longest time between two new segments (or from `start`) within [start, end]."""
        times = [start] + [s.at for s in self.order if start < s.at <= end]
        if end != float("inf"):
            times.append(min(end, self.last_poll))
        return max((b - a for a, b in itertools.pairwise(times)), default=0.0)


class Watcher:
    """Polls `stores` x `rungs` in a thread from `start()` to `stop()`."""

    def __init__(self, stores: Iterable[Store], rungs: Iterable[str],
                 index_prefix: str = "live") -> None:
        self.stores = {s.name: s for s in stores}
        self.rungs = list(rungs)
        self.master = f"{index_prefix}.m3u8"
        self.variants = {r: f"{index_prefix}_{r}.m3u8" for r in self.rungs}
        self.tracks = {(s, r): Track(s, r, MediaPlaylistWatcher(f"{s}:{self.variants[r]}"))
                       for s in self.stores for r in self.rungs}
        self.errors: list[str] = []
        self.masters_checked = dict.fromkeys(self.stores, 0)
        self._uri_seq: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rfc8216-watcher", daemon=True)

    def track(self, store: str, rung: str) -> Track:
        return self.tracks[(store, rung)]

    # -- life ---------------------------------------------------------------------------
    def start(self) -> Watcher:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)

    def __enter__(self) -> Watcher:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def check(self) -> None:
        """Raise if any poll so far saw a broken rule."""
        assert not self.errors, "\n".join(self.errors[:10])

    # -- polling ------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            began = time.monotonic()
            self.poll()
            self._stop.wait(max(0.0, POLL - (time.monotonic() - began)))

    def poll(self) -> None:
        for store in self.stores.values():
            for rung in self.rungs:
                self._poll_variant(store, rung)
            self._poll_master(store)

    def _poll_variant(self, store: Store, rung: str) -> None:
        track = self.tracks[(store.name, rung)]
        try:
            text = store.read(self.variants[rung])
        except Exception as exc:  # a backing store mid-change: try again next poll
            self.errors.append(f"{store.name}: reading {self.variants[rung]}: {exc!r}")
            return
        if text is None:
            return
        now = time.monotonic()
        try:
            track.checker.check(text, store.exists)
            playlist = parse_media_text(text, track.checker.name)
        except AssertionError as exc:
            self.errors.append(str(exc))
            return
        with self._lock:
            track.polls += 1
            track.last_poll = now
            for s in playlist.segments:
                known = self._uri_seq.setdefault((store.name, s.uri), s.msn)
                if known != s.msn:
                    self.errors.append(f"{track.checker.name}: {s.uri} listed as MSN {s.msn}, "
                                       f"earlier as MSN {known}")
                if s.msn in track.seen:
                    continue
                joined = s.discontinuity or bool(
                    track.order and s.discontinuity_number > track.order[-1].number)
                seen = Seen(s.msn, s.uri, s.duration, joined, s.discontinuity_number, now,
                            s.gap)
                track.seen[s.msn] = seen
                if s.msn < track.newest:
                    # hlscheck's MSN rules let a listed-late older MSN pass only if it was
                    # never listed: a segment appearing behind the newest is an error.
                    self.errors.append(f"{track.checker.name}: MSN {s.msn} appeared after "
                                       f"MSN {track.newest}")
                    continue
                if track.order and s.msn > track.newest + 1:
                    track.gaps.append((now, track.newest, s.msn))
                track.order.append(seen)

    def _poll_master(self, store: Store) -> None:
        text = store.read(self.master)
        if text is None:
            return
        try:
            check_master(text, lambda uri: store.read(uri) is not None,
                         where=f"{store.name}:{self.master}")
        except AssertionError as exc:
            self.errors.append(str(exc))
            return
        self.masters_checked[store.name] += 1

    # -- waiting ------------------------------------------------------------------------
    def wait_segments(self, store: str, rung: str, count: int, after: float = 0.0,
                      timeout: float = 30.0, alive: Callable[[], None] | None = None) -> Seen:
        """Until `count` new segments appeared after `after`; returns the last of them."""
        track = self.tracks[(store, rung)]

        def enough() -> Seen | None:
            self.check()
            if alive is not None:
                alive()
            with self._lock:
                new = [s for s in track.order if s.at > after]
            return new[count - 1] if len(new) >= count else None

        result: Seen = wait_for(enough, timeout,
                                f"{count} new segments of {rung} at {store}", interval=0.05)
        return result

    def newest(self, store: str, rung: str) -> int:
        with self._lock:
            return self.tracks[(store, rung)].newest
