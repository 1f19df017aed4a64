"""hlsd.media.retention.Peaks: the longest playlist that listed each removed segment."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from hlsd.media.playlist import Entry, MediaPlaylist
from hlsd.media.retention import Peaks


def test_the_longest_playlist_not_the_last() -> None:
    peaks = Peaks()
    peaks.listed(5, 24.0)  # s0..s5: 24 s
    peaks.listed(6, 21.0)  # s1..s6: 21 s (shorter segments arrive)
    peaks.listed(7, 18.0)
    assert peaks.longest(1) == 24.0
    assert peaks.longest(6) == 21.0  # s6 was never in the 24 s playlist
    peaks.listed(8, 30.0)
    assert peaks.longest(7) == 30.0


@settings(max_examples=300, deadline=None)
@given(target=st.integers(1, 6), window=st.integers(1, 8),
       ops=st.lists(st.tuples(st.sampled_from([0] * 6 + [1, 4]), st.floats(0.0, 1.0)),
                    max_size=80))
def test_matches_a_scan_of_every_playlist(target: int, window: int,
                                          ops: list[tuple[int, float]]) -> None:
    playlist = MediaPlaylist(target, window=window)
    peaks = Peaks()
    seen: dict[int, float] = {}  # seq -> longest playlist that listed it, by brute force
    seq = 0
    for skip, fraction in ops:
        seq += skip
        removed = playlist.add(Entry(seq, f"s{seq}.ts", 0.001 + fraction * (target - 0.001)))
        for e in removed:
            assert peaks.longest(e.seq) == seen[e.seq]
        peaks.listed(seq, playlist.duration)
        for e in playlist.entries:
            seen[e.seq] = max(seen.get(e.seq, 0.0), playlist.duration)
        seq += 1
