"""Ad breaks across a restart (hlsd.media.breakstate, AdBreaks.kept/restore): what a run
keeps goes through the state file's JSON, and the next run returns an open break at its
planned time, or at its first segment when that time passed, and opens a pending splice."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from hlsd.media import scte35
from hlsd.media.breaks import AdBreaks, BreakExists, Cue
from hlsd.media.breakstate import BreakState
from tests.media.test_breaks import T0, feed, live, opened


def first_run() -> BreakState:
    """2 s segments dated T0 + 2n: an 8 s operator break opens on segment 3 (6 s; its
    return planned at 14 s); a live splice_insert arrives at 4 s for 24 s, 4 s long; a
    file's break and an operator's cue still waiting are there too. The run stops after
    segment 4; what it keeps, through JSON as the state file holds it."""
    breaks = AdBreaks()
    feed(breaks, ["a", "b"], range(3))
    breaks.cue("ad-1", 8.0)
    breaks.splice(live(scte35.splice_insert(7, None, 4 * 90_000), 4.0, 20.0, None), False)
    breaks.schedule(Cue("file-1", 4.0, at=100.0, out=b"\xfc"))
    feed(breaks, ["a", "b"], range(3, 5))
    breaks.cue("waiting", 4.0)
    state = BreakState(*breaks.kept())
    return BreakState.from_json(json.loads(json.dumps(state.to_json())))


def restarted(state: BreakState) -> AdBreaks:
    breaks = AdBreaks()
    breaks.restore(state.pending, state.opened)
    return breaks


def test_a_restart_within_a_break_returns_it_at_its_planned_time() -> None:
    """1. kept: the open break (ad-1) and the pending splice; not the file's break (found
       in the file again) nor the waiting cue (its asker is gone)
    2. the restarted run's segments 6-15 (same dates): ad-1 returns on segment 7 (14 s),
       END-DATE and DURATION 8 s, SCTE35-IN, on both rungs alike; the splice opens on 12
       (24 s) with the source's section, and returns on 14
    3. the IDs stay taken"""
    state = first_run()
    assert [c.id for c in state.pending] == ["splice-7"]
    assert [b.cue.id for b in state.opened] == ["ad-1"]
    breaks = restarted(state)
    got = feed(breaks, ["a", "b"], range(6, 16))
    assert got["a"] == got["b"]
    marks = opened(got)
    assert sorted(marks) == [7, 12, 14]
    (back,) = marks[7]
    assert back.id == "ad-1" and back.start == T0 + timedelta(seconds=6)
    assert back.end == T0 + timedelta(seconds=14) and back.duration == 8.0
    assert back.scte35_in is not None and not scte35.parse(back.scte35_in).out
    (out,), (splice_back,) = marks[12], marks[14]
    assert out.id == splice_back.id == "splice-7"
    assert out.start == T0 + timedelta(seconds=24) and out.planned_duration == 4.0
    assert out.scte35_out == state.pending[0].out and splice_back.end is not None
    for ident in ("ad-1", "splice-7"):
        with pytest.raises(BreakExists):
            breaks.cue(ident, 4.0)


def test_a_return_already_past_comes_on_the_first_segment_after_the_restart() -> None:
    """The restarted run's first segment is 9 (18 s, after ad-1's planned 14 s): the
    return is there, END-DATE 18 s, DURATION 12."""
    marks = opened(feed(restarted(first_run()), ["a"], range(9, 11)))
    (back,) = marks[9]
    assert back.id == "ad-1" and back.end == T0 + timedelta(seconds=18)
    assert back.duration == 12.0


def test_a_closed_break_is_kept_with_its_return() -> None:
    """Its lines are in the playlists already (their segments are state too); kept so its
    ID stays taken and a segment of its own is never marked again."""
    breaks = AdBreaks()
    breaks.cue("done", 2.0)
    feed(breaks, ["a"], range(3))
    state = BreakState.from_json(json.loads(json.dumps(BreakState(*breaks.kept()).to_json())))
    (brk,) = state.opened
    assert (brk.start_seq, brk.end_seq, brk.end) == (0, 1, T0 + timedelta(seconds=2))
    again = restarted(state)
    assert opened(feed(again, ["a"], range(3, 6))) == {}
    with pytest.raises(BreakExists):
        again.cue("done", 2.0)


def test_an_older_state_without_breaks_is_empty() -> None:
    assert BreakState.from_json({}) == BreakState()


@pytest.mark.parametrize("data", [
    [], {"pending": "x"}, {"opened": [{"cue": {"id": "a", "duration": 2}}]},
    {"pending": [{"id": 5, "duration": 2}]},
    {"pending": [{"id": "a", "duration": 2, "date": "2026-12-06T10:00:00"}]},
    {"pending": [{"id": "a", "duration": 2, "out": "zz"}]},
    {"pending": [{"id": "a", "duration": 2, "colour": "red"}]},
    {"pending": [{"id": "a", "duration": "2"}]},
    {"pending": [{"id": "a"}]},
])
def test_what_it_did_not_write_is_a_value_error(data: Any) -> None:
    with pytest.raises(ValueError):
        BreakState.from_json(data)


def test_round_trip_keeps_every_field() -> None:
    cue = Cue("x", None, 3, date=T0, pts=123, back_date=T0 + timedelta(seconds=4),
              back_pts=456, out=b"\x01\x02", back=b"\x03")
    state = BreakState([cue], [])
    assert BreakState.from_json(json.loads(json.dumps(state.to_json()))) == state
