"""hlsd.publish.listing with hlsd.media.retention, on an injected clock: a segment that left a
playlist is deleted no earlier than RFC 8216 §6.2.2 allows — its own duration plus the
duration of the longest playlist that contained it, counted from the moment the last
playlist naming it was replaced."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from hlsd.media.retention import Retention
from hlsd.publish.listing import Listing
from hlsd.publish.segment import SegmentFile
from hlsd.publish.settings import PublishSettings
from hlsd.publish.state import DestinationState

T0 = datetime(2026, 3, 2, 5, 52, tzinfo=UTC)


class Publisher:
    """Listing + Retention driven as Destination drives them (list, publish, schedule the
    removed with their window), and what a watcher polling the published playlists sees."""

    def __init__(self, target: int = 2, window: int = 6) -> None:
        self.listing = Listing(PublishSettings(target, window, float(target), ""),
                               DestinationState())
        self.listing.add_rung("r")
        self.retention = Retention()
        self.longest: dict[str, float] = {}  # name -> longest published playlist naming it
        self.left: dict[str, tuple[float, float]] = {}  # name -> (left at, own duration)
        self.published: set[str] = set()
        self.deleted: dict[str, float] = {}  # name -> when it was due and deleted

    def add(self, seq: int, duration: float, discontinuity: bool = False) -> None:
        self.listing.add(SegmentFile("r", seq, Path(f"/tmp/r/s{seq}.ts"), duration, 1000,
                                     True, discontinuity, T0))

    def publish(self, now: float) -> None:
        playlist = self.listing.playlists["r"]
        names = {e.name for e in playlist.entries}
        for e in playlist.entries:
            self.longest[e.name] = max(self.longest.get(e.name, 0.0), playlist.duration)
            self.left.setdefault(e.name, (0.0, e.duration))  # duration known from here
        for name in self.published - names:
            self.left[name] = (now, self.left[name][1])
        self.published = names
        for entry, window in self.listing.published("r"):
            self.retention.schedule([entry], window, now)

    def deleted_early(self, now: float) -> list[str]:
        """Names due at `now` whose §6.2.2 time has not come (listed ones included)."""
        early = []
        for name in self.retention.due(now):
            self.deleted[name] = now
            left, own = self.left.get(name, (now, 0.0))
            if name in self.published or (
                    name in self.longest and now < left + own + self.longest[name] - 1e-9):
                early.append(name)
        return early

    def scheduled_early(self) -> list[str]:
        """Pending deletions set before their §6.2.2 time (exact: no polling needed)."""
        return [name for when, name in self.retention.to_dict()["pending"]
                if name in self.longest and name in self.left and name not in self.published
                and when < self.left[name][0] + self.left[name][1] + self.longest[name] - 1e-9]


def test_stall_then_burst_keeps_segments_for_the_longest_playlist_that_held_them() -> None:
    """2 s segments, six listed (12 s). The input stalls: the stall guard kills the encoder,
    whose segmenter flushes a 0.8 s last segment, so the playlist shrinks to 10.8 s. 35 s
    later the input is back and the buffered media arrive in a burst that overflows the
    lane: two segments are skipped, and the gap empties the playlist. s1..s5 had been in
    the 12 s playlist: they must stay 2 + 12 = 14 s, not 2 + 10.8 = 12.8 s (the field
    report: deleted 12.8 s after they left)."""
    pub = Publisher()
    for seq in range(6):
        pub.add(seq, 2.0)
        pub.publish(now=2.0 * (seq + 1))
    pub.add(6, 0.8)  # the stall: the last, short segment
    pub.publish(now=12.8)
    resume = 12.8 + 35.0
    pub.add(9, 2.0, discontinuity=True)  # s7, s8 skipped in the burst
    pub.publish(now=resume)
    for seq in range(10, 14):
        pub.add(seq, 2.0)
    pub.publish(now=resume + 0.4)
    assert all(pub.left[f"s{seq}.ts"][0] == resume for seq in range(1, 7))
    early = []
    now = resume
    while now < resume + 20.0:
        now += 0.25  # a watcher's polls
        early += pub.deleted_early(now)
    assert early == []
    held = {f"s{seq}.ts" for seq in range(1, 7)}
    assert held <= set(pub.deleted)  # all go in the end
    assert min(pub.deleted[f"s{seq}.ts"] for seq in range(1, 6)) >= resume + 2.0 + 12.0


def test_a_shrinking_window_keeps_the_longest_not_the_last() -> None:
    """No gap: long segments, then short ones after the stall (the playlist shrinks to
    its three-target-duration floor while it still names the long ones)."""
    pub = Publisher(target=4, window=6)
    now = 0.0
    for seq in range(6):
        now += 4.0
        pub.add(seq, 4.0)
        pub.publish(now)  # 24 s
    now += 35.0
    for seq in range(6, 30):  # 1 s segments in a burst, published as they come
        now += 0.1
        pub.add(seq, 1.0, discontinuity=seq == 6)
        pub.publish(now)
    early = []
    for _ in range(200):
        now += 0.25
        early += pub.deleted_early(now)
    assert early == []


@settings(max_examples=300, deadline=None)
@given(target=st.integers(1, 6), window=st.integers(1, 8),
       ops=st.lists(st.tuples(st.sampled_from([0] * 8 + [1, 3]), st.floats(0.0, 1.0),
                              st.booleans(), st.floats(0.0, 3.0)), max_size=80))
def test_never_deletes_before_its_rfc_time(
    target: int, window: int, ops: list[tuple[int, float, bool, float]]
) -> None:
    """Random durations, skipped numbers (gaps), bursts (several listed before a publish)
    and pauses: nothing due is listed, nor due before its §6.2.2 time."""
    pub = Publisher(target, window)
    now, seq = 0.0, 0
    for skip, fraction, publish, pause in ops:
        seq += skip
        pub.add(seq, round(0.001 + fraction * (target + 0.499 - 0.001), 3))
        seq += 1
        if publish:
            pub.publish(now)
        assert pub.scheduled_early() == []
        now += pause
        assert pub.deleted_early(now) == []
    pub.publish(now)
    assert pub.scheduled_early() == []
    for _ in range(4):
        now += target * window
        assert pub.deleted_early(now) == []
