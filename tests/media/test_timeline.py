"""hlsd.media.timeline: EXT-X-PROGRAM-DATE-TIME never dates a segment as ending after it was
finished (the rung-alignment case is in test_ladder.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from hlsd.media.timeline import Timeline

T0 = datetime(2026, 3, 2, 5, 52, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_real_time_segments_chain_exactly() -> None:
    """The normal case is unchanged: each finished a little after its chained end."""
    clock = Timeline()
    first = clock.program_date_time("a", 0, 2.0, True, at(2.0))
    assert first == at(0.0)
    for seq in range(1, 6):
        pdt = clock.program_date_time("a", seq, 2.0, False, at(2.0 * (seq + 1) + 0.35))
        assert pdt == at(2.0 * seq)  # the anchor plus the durations, not each arrival


def test_a_burst_after_a_stall_is_never_dated_in_the_future() -> None:
    """After a stall the encoder is restarted (a discontinuity: anchored to the wall clock),
    then the media buffered upstream (SRT) arrive faster than real time: 2 s segments
    0.1 s apart. Chained, their dates ran up to 14 s ahead of the clock; each must end
    no later than the moment it was finished."""
    clock = Timeline()
    now = at(40.0)
    assert clock.program_date_time("a", 20, 2.0, True, now) == now - timedelta(seconds=2)
    for i in range(1, 8):
        finished = now + timedelta(seconds=0.1 * i)
        pdt = clock.program_date_time("a", 20 + i, 2.0, False, finished)
        assert pdt + timedelta(seconds=2.0) <= finished, (20 + i, pdt, finished)
        # Re-anchored to the moment it was finished, not further back than needed.
        assert pdt + timedelta(seconds=2.0) == finished


def test_observed_segment_dated_after_its_file_was_written() -> None:
    """The field case: chained to 05:52:37.324 while its file was written at 05:52:36.430."""
    clock = Timeline()
    clock.program_date_time("a", 99, 1.5, True, at(35.824))  # ends 05:52:35.824
    written = at(36.430)
    pdt = clock.program_date_time("a", 100, 1.5, False, written)
    assert pdt != at(35.824)  # the chained date would end at 05:52:37.324
    assert pdt + timedelta(seconds=1.5) <= written


def test_after_a_re_anchor_the_chain_continues_from_it() -> None:
    clock = Timeline()
    clock.program_date_time("a", 0, 2.0, True, at(2.0))
    ahead = clock.program_date_time("a", 1, 2.0, False, at(2.5))  # 1.5 s early: re-anchored
    assert ahead == at(0.5)
    # Back to real time: exact chaining from the re-anchored end.
    assert clock.program_date_time("a", 2, 2.0, False, at(4.6)) == at(2.5)


def test_every_rung_gets_the_same_date_in_a_burst() -> None:
    """The first rung to report a number dates it; later reports of it (later, so still
    not in the future for them) get the same date, so players can switch rungs."""
    clock = Timeline()
    clock.program_date_time("a", 0, 2.0, True, at(10.0))
    clock.program_date_time("b", 0, 2.0, True, at(10.2))
    for seq in range(1, 5):
        a = clock.program_date_time("a", seq, 2.0, False, at(10.0 + 0.1 * seq))
        b = clock.program_date_time("b", seq, 2.0, False, at(10.3 + 0.1 * seq))
        assert a == b
        assert a + timedelta(seconds=2.0) <= at(10.0 + 0.1 * seq)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.floats(0.05, 4.0), st.floats(0.0, 6.0), st.booleans(),
                          st.integers(0, 2)), min_size=1, max_size=60))
def test_never_ahead_and_exact_whenever_the_chain_is_not(
    steps: list[tuple[float, float, bool, int]]
) -> None:
    """Random durations, arrival gaps, discontinuities and skipped numbers, on two rungs."""
    clock = Timeline()
    now, seq = at(0.0), 0
    ends: dict[str, tuple[int, datetime]] = {}
    for duration, pause, discontinuity, skip in steps:
        now += timedelta(seconds=pause)
        seq += skip + 1
        length = timedelta(seconds=duration)
        for rung, late in (("a", 0.0), ("b", 0.05)):
            finished = now + timedelta(seconds=late)
            pdt = clock.program_date_time(rung, seq, duration, discontinuity, finished)
            if rung == "a":
                assert pdt + length <= finished
                last = ends.get(rung)
                chained = (last is not None and last[0] == seq - 1 and not discontinuity
                           and last[1] + length <= finished)
                if chained:
                    assert last is not None and pdt == last[1]
                first = pdt
            else:
                assert pdt == first
            ends[rung] = (seq, pdt + length)
