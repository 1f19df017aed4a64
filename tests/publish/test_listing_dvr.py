"""hlsd.publish.listing with `dvr_window`: the live playlist keeps its window, what left it
stays until it is dvr_window behind the live edge, and the index survives a restart."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hlsd.media.parse import parse_media
from hlsd.media.retention import Retention
from hlsd.publish.listing import Listing
from hlsd.publish.segment import SegmentFile
from hlsd.publish.settings import PublishSettings
from hlsd.publish.state import DestinationState

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def segment(seq: int, ext: str = "ts") -> SegmentFile:
    return SegmentFile("r", seq, Path(f"/tmp/r/s{seq}.{ext}"), 1.0, 1000, True, False,
                       T0 + timedelta(seconds=seq))


def listing(dvr: float, state: DestinationState | None = None) -> Listing:
    result = Listing(PublishSettings(1, 3, 1.0, "", dvr_window=dvr),
                     state or DestinationState())
    result.add_rung("r")
    return result


def test_segments_leave_only_once_the_window_is_behind_them() -> None:
    """1. 1 s segments, a live window of 3, dvr_window 10; 2. 40 segments listed and
    published; 3. the live playlist holds 3, what was let go each time ended more than
    10 s before the newest segment's end, and the index holds the rest."""
    plain, dvr = listing(0.0), listing(10.0)
    released: list[int] = []
    for seq in range(40):
        plain.add(segment(seq))
        plain.published("r")
        dvr.add(segment(seq))
        gone = [int(e.name[1:-3]) for e, _ in dvr.published("r")]
        assert all(g + 1 < seq + 1 - 10 for g in gone), (seq, gone)
        released += gone
    assert dvr.playlists["r"].render() == plain.playlists["r"].render()
    assert released == list(range(len(released))) and released[-1] == 28
    assert len(dvr.dvr["r"]) == 40 - 29


def test_the_index_survives_a_restart_and_a_window_turned_off_lets_go() -> None:
    first = listing(10.0)
    for seq in range(20):
        first.add(segment(seq))
        first.published("r")
    saved = json.loads(json.dumps(first.snapshot(Retention()).to_json()))
    again = listing(10.0, DestinationState.from_json(saved))
    again.add(segment(20))
    text = again.dvr["r"].render(T0.timestamp(), None, 1)
    assert text is not None
    assert [e.seq for e in parse_media(text).entries] == list(range(10, 21))
    off = listing(0.0, DestinationState.from_json(saved))
    assert [e.seq for e, _ in off.published("r")] == list(range(9, 17)) and not off.dvr




def test_a_shorter_window_set_while_running_trims_at_the_next_segment() -> None:
    """1. dvr_window 20 with 30 segments listed: 20 s kept. 2. Set to 5 (a reload): the next
    segment lets go of everything that ended more than 5 s before the edge."""
    dvr = listing(20.0)
    for seq in range(30):
        dvr.add(segment(seq))
        dvr.published("r")
    assert len(dvr.dvr["r"]) == 21
    dvr.set_dvr_window(5.0)
    dvr.add(segment(30))
    gone = [int(e.name[1:-3]) for e, _ in dvr.published("r")]
    assert gone == list(range(9, 25)) and len(dvr.dvr["r"]) == 6
