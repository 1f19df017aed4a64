"""hlsd.retention: the RFC 8216 §6.2.2 deletion schedule."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hlsd.media.playlist import Entry, MediaPlaylist
from hlsd.media.retention import Retention


def entry(seq: int, duration: float = 4.0) -> Entry:
    return Entry(seq, f"s{seq}.ts", duration)


def test_segment_waits_its_duration_plus_the_playlist_duration() -> None:
    retention = Retention()
    retention.schedule([entry(0, 4.0)], playlist_duration=24.0, now=100.0)
    assert retention.pending == 1
    assert retention.next_due() == 128.0
    assert retention.due(127.999) == []
    assert retention.due(128.0) == ["s0.ts"]
    assert retention.pending == 0
    assert retention.due(1000.0) == []  # returned once only
    assert retention.next_due() is None


def test_due_returns_names_in_time_order() -> None:
    retention = Retention()
    retention.schedule([entry(2, 6.0)], 10.0, now=0.0)  # 16
    retention.schedule([entry(0, 1.0), entry(1, 2.0)], 10.0, now=0.0)  # 11, 12
    retention.schedule([entry(3, 1.0)], 10.0, now=20.0)  # 31
    assert retention.due(20.0) == ["s0.ts", "s1.ts", "s2.ts"]
    assert retention.pending == 1


def test_rescheduling_a_name_keeps_the_later_time() -> None:
    retention = Retention()
    retention.schedule([entry(0)], 10.0, now=0.0)  # 14
    retention.schedule([entry(0)], 10.0, now=5.0)  # 19
    retention.schedule([entry(0)], 1.0, now=0.0)  # 5: earlier, ignored
    assert retention.pending == 1
    assert retention.next_due() == 19.0
    assert retention.due(18.0) == []
    assert retention.due(19.0) == ["s0.ts"]


def test_state_round_trip_through_json() -> None:
    retention = Retention()
    retention.schedule([entry(i, 1.0 + i) for i in range(5)], 7.5, now=1000.0)
    restored = Retention.from_dict(json.loads(json.dumps(retention.to_dict())))
    assert restored.to_dict() == retention.to_dict()
    assert restored.pending == 5
    # due at 1000 + (1 + i) + 7.5: s0 1008.5, s1 1009.5, s2 1010.5
    assert restored.due(1010.0) == retention.due(1010.0) == ["s0.ts", "s1.ts"]


@pytest.mark.parametrize("state", [{}, {"pending": [[1.0]]}, {"pending": [["soon", "a.ts"]]}])
def test_from_dict_rejects_broken_state(state: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Retention.from_dict(state)


def test_many_rungs_scale() -> None:
    """200 rungs x 250 segments in one schedule: a heap, not a scan per call."""
    retention = Retention()
    for seq in range(250):
        retention.schedule((Entry(seq, f"r{r}-{seq}.ts", 4.0) for r in range(200)), 24.0, seq * 4.0)
    assert retention.pending == 50_000
    # due at seq * 4 + 28 <= 500: seq 0..118
    assert len(retention.due(500.0)) == 200 * 119
    assert retention.pending == 200 * (250 - 119)


@settings(max_examples=300, deadline=None)
@given(
    target=st.integers(1, 8),
    window=st.integers(1, 6),
    ops=st.lists(
        st.tuples(st.sampled_from([0] * 8 + [2]), st.floats(0.0, 1.0), st.floats(0.0, 3.0)),
        max_size=80,
    ),
)
def test_never_deletes_a_listed_segment_nor_before_its_rfc_time(
    target: int, window: int, ops: list[tuple[int, float, float]]
) -> None:
    """1. Add segments (with gaps) to a sliding playlist, the clock moving irregularly.
    2. Schedule what leaves with the playlist's longest duration.
    3. Everything `due` returns is no longer listed, and its RFC 8216 §6.2.2 time has passed:
       removal + own duration + the longest rendered playlist that listed it.
    """
    playlist = MediaPlaylist(target, window=window)
    retention = Retention()
    now, seq = 0.0, 0
    longest_listing: dict[str, float] = {}  # name -> longest playlist that listed it
    removed_at: dict[str, tuple[float, float]] = {}  # name -> (time, own duration)
    deleted: list[str] = []
    for skip, fraction, pause in ops:
        seq += skip
        duration = round(0.001 + fraction * (target + 0.499 - 0.001), 3)
        removed = playlist.add(Entry(seq, f"s{seq}.ts", duration))
        seq += 1
        for e in playlist.entries:
            longest_listing[e.name] = max(longest_listing.get(e.name, 0.0), playlist.duration)
        for e in removed:
            removed_at[e.name] = (now, e.duration)
        retention.schedule(removed, playlist.longest_duration, now)
        now += pause
        listed = {e.name for e in playlist.entries}
        for name in retention.due(now):
            deleted.append(name)
            assert name not in listed
            when, own = removed_at[name]
            assert now >= when + own + longest_listing[name] - 1e-9
    # Nothing is lost or deleted twice: every removed segment is deleted or still waiting.
    waiting = [name for _, name in retention.to_dict()["pending"]]
    assert sorted(deleted + waiting) == sorted(removed_at)
