"""The state file (hlsd.service.state): the ad breaks ride along with the numbering, and a
state written before they did still loads."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from hlsd.media.breakstate import BreakState
from hlsd.publish.cues import CueDesk
from hlsd.service.state import DaemonState, StateStore

T0 = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)


def test_an_open_break_goes_through_the_state_file(tmp_path: Path) -> None:
    """1. a desk whose 6 s break opened on segment 40 is saved with next_seq 42
    2. loaded into a new desk: segment 42 at 10 s is where it returns"""
    desk = CueDesk(("daterange",))
    desk.breaks.cue("ad-1", 6.0)
    desk.marks(40, T0, None)
    store = StateStore(tmp_path)
    store.save(DaemonState(42, breaks=desk.state()))
    state = store.load()
    assert state.next_seq == 42 and [b.cue.id for b in state.breaks.opened] == ["ad-1"]
    again = CueDesk(("daterange",))
    again.restore(state.breaks)
    (line,) = again.marks(42, datetime(2026, 12, 6, 10, 0, 10, tzinfo=UTC), None)
    assert line.startswith('#EXT-X-DATERANGE:ID="ad-1"') and "END-DATE=" in line


def test_a_state_from_before_the_breaks_loads(tmp_path: Path) -> None:
    (tmp_path / "hlsd-state.json").write_text(json.dumps(
        {"version": 1, "next_seq": 7, "destinations": {}, "keys": {}}))
    state = StateStore(tmp_path).load()
    assert state.next_seq == 7 and state.breaks == BreakState()
