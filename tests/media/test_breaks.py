"""Ad breaks on the output timeline (hlsd.media.breaks): where a break opens and returns,
and that every rung gets the same lines for the same segment."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest

from hlsd.media import daterange, scte35
from hlsd.media.breaks import AdBreaks, Cue
from hlsd.media.daterange import DateRangeError
from hlsd.media.sections import crc32_mpeg2
from hlsd.media.splices import LiveSplice
from tests.media.test_scte35 import SIGNAL_B64

T0 = datetime(2026, 12, 6, 10, 0, 0, tzinfo=UTC)


def feed(breaks: AdBreaks, rungs: list[str], seqs: range, length: float = 2.0,
         ) -> dict[str, dict[int, tuple[str, ...]]]:
    """Each segment to every rung in turn, as the intake does; the lines each got."""
    got: dict[str, dict[int, tuple[str, ...]]] = {r: {} for r in rungs}
    for seq in seqs:
        for rung in rungs:
            lines, _ = breaks.marks(seq, T0 + timedelta(seconds=seq * length), seq * 180_000)
            got[rung][seq] = lines
    return got


def test_a_cue_opens_at_the_next_boundary_and_returns_at_its_end_on_every_rung() -> None:
    """1. segments 0-2 come; a 6 s break is asked for
    2. it opens on segment 3 (the next boundary), with a splice_insert of its PTS and
       duration, START-DATE = segment 3's date, PLANNED-DURATION 6
    3. it returns on segment 6 (6 s later): same ID, END-DATE, DURATION, SCTE35-IN
    4. both rungs got exactly the same lines"""
    breaks = AdBreaks()
    feed(breaks, ["a", "b"], range(3))
    cue = breaks.cue("ad-1", 6.0)
    got = feed(breaks, ["a", "b"], range(3, 9))
    assert got["a"] == got["b"]
    marked = {seq: lines for seq, lines in got["a"].items() if lines}
    assert sorted(marked) == [3, 6]
    out = daterange.parse(marked[3][0])
    assert (out.id, out.start, out.planned_duration) == ("ad-1", T0 + timedelta(seconds=6), 6.0)
    assert out.scte35_out is not None and out.scte35_in is None
    section = scte35.parse(out.scte35_out)
    assert section.out and section.splice_pts == 3 * 180_000 and section.duration == 6.0
    assert isinstance(section.command, scte35.SpliceInsert)
    assert section.command.event_id == cue.event_id
    back = daterange.parse(marked[6][0])
    assert back.id == "ad-1" and back.start == out.start
    assert back.end == T0 + timedelta(seconds=12) and back.duration == 6.0
    assert back.scte35_in is not None and not scte35.parse(back.scte35_in).out


def test_the_return_waits_for_a_boundary_at_or_after_the_planned_end() -> None:
    """A 5 s break on 2 s segments returns after 6 s, never before its planned end."""
    breaks = AdBreaks()
    breaks.cue("ad", 5.0)
    got = feed(breaks, ["a"], range(0, 6))["a"]
    assert [seq for seq, lines in got.items() if lines] == [0, 3]


def test_the_first_rung_decides_and_a_lagging_rung_repeats_it() -> None:
    """Rung a is two segments ahead of b when the cue comes: the break opens on a's next
    segment, and b (still behind) gets the same OUT there, not on its own next one."""
    breaks = AdBreaks()
    for seq in range(4):
        breaks.marks(seq, T0 + timedelta(seconds=2 * seq), None)  # rung a
    breaks.marks(0, T0, None)  # rung b, behind
    breaks.marks(1, T0 + timedelta(seconds=2), None)
    breaks.cue("ad", 2.0)
    b_lines = [breaks.marks(seq, T0 + timedelta(seconds=2 * seq), None)[0] for seq in (2, 3)]
    assert b_lines == [(), ()]
    a_lines, opened = breaks.marks(4, T0 + timedelta(seconds=8), None)
    assert [b.start_seq for b in opened] == [4] and a_lines
    assert breaks.marks(4, T0 + timedelta(seconds=8), None) == (a_lines, [])


def test_cue_style_adds_the_legacy_tags() -> None:
    breaks = AdBreaks(("daterange", "cue"))
    breaks.cue("ad", 4.0)
    got = feed(breaks, ["a"], range(0, 4))["a"]
    assert got[0][1] == "#EXT-X-CUE-OUT:DURATION=4.000"
    assert got[2][1] == "#EXT-X-CUE-IN"
    only_cue = AdBreaks(("cue",))
    only_cue.cue("ad", 4.0)
    assert feed(only_cue, ["a"], range(0, 1))["a"][0] == ("#EXT-X-CUE-OUT:DURATION=4.000",)


def test_refused_cues() -> None:
    breaks = AdBreaks()
    breaks.cue("ad", 4.0)
    with pytest.raises(ValueError, match="exists already"):
        breaks.cue("ad", 4.0)
    for duration in (0.0, float("inf"), float("nan"), 86_401.0):
        with pytest.raises(ValueError, match="more than 0"):
            breaks.cue("other", duration)
    with pytest.raises(DateRangeError):
        breaks.cue('a"b', 4.0)
    with pytest.raises(ValueError, match="unknown"):
        AdBreaks(("scte",))


def test_a_withdrawn_cue_never_opens() -> None:
    breaks = AdBreaks()
    breaks.cue("ad", 4.0)
    assert breaks.withdraw("ad") and not breaks.withdraw("ad")
    assert feed(breaks, ["a"], range(0, 4))["a"] == {s: () for s in range(4)}


def test_a_scheduled_break_is_timed_by_media_seconds_not_dates() -> None:
    """The source's break at 21 s returning at 29 s, on segments of a file encoded far
    faster than real time (dates 0.1 s apart): it opens on the segment at offset 21.0
    (± a frame) with the source's section, returns on the one at 29.0 with DURATION 8
    (media), END-DATE = START-DATE + 8 s; no SCTE35-IN unless the source sent one."""
    section = scte35.splice_insert(7, 0, 8 * 90_000)
    breaks = AdBreaks()
    breaks.schedule(Cue("splice-7", 8.0, at=21.0, out=section, back_at=29.0))
    offsets = [0.0, 4.0, 8.0, 12.0, 16.0, 20.0, 20.98, 24.0, 28.0, 28.99, 32.0]
    got = [breaks.marks(seq, T0 + timedelta(seconds=0.1 * seq), None, at)[0]
           for seq, at in enumerate(offsets)]
    assert [seq for seq, lines in enumerate(got) if lines] == [6, 9]
    out, back = daterange.parse(got[6][0]), daterange.parse(got[9][0])
    assert out.scte35_out == section and out.start == T0 + timedelta(seconds=0.6)
    assert back.duration == 8.01 and back.end == out.start + timedelta(seconds=8.01)
    assert back.scte35_in is None


# -- a live input's sections (AdBreaks.splice) ------------------------------------------------

def live(info_section: bytes, at: float, pre_roll: float, pts: int | None) -> LiveSplice:
    """A section that arrived `at` seconds after T0, its splice `pre_roll` later."""
    return LiveSplice(scte35.parse(info_section), T0.timestamp() + at, pre_roll, pts)


def opened(got: dict[str, dict[int, tuple[str, ...]]]) -> dict[int, list[daterange.DateRange]]:
    return {seq: [daterange.parse(line) for line in lines]
            for seq, lines in got["a"].items() if lines}


@pytest.mark.parametrize("exact", [False, True])
def test_a_live_splice_opens_on_the_first_boundary_at_or_after_its_point(exact: bool) -> None:
    """2 s segments dated T0 + 2n, timestamps 180000n. A splice_insert sent three times
    (at 1, 2 and 3 s, each naming 7.0 s: pre-rolls 6, 5, 4), break_duration 8: one break,
    opening on segment 4 (8 s: the first boundary at or after 7 s), returning on segment
    8 (16 s: at or after 15 s), SCTE35-OUT the source's section, its return with no
    SCTE35-IN (the source sent none). By dates (local) or timestamps (locked) alike."""
    breaks = AdBreaks()
    section = scte35.splice_insert(7, 7 * 90_000, 8 * 90_000)
    feed(breaks, ["a", "b"], range(1))
    what = [breaks.splice(live(section, at, 7 - at, 7 * 90_000), exact)
            for at in (1.0, 2.0, 3.0)]
    assert what == ["opens", "repeat", "repeat"]
    got = feed(breaks, ["a", "b"], range(1, 10))
    assert got["a"] == got["b"]
    marks = opened(got)
    assert sorted(marks) == [4, 8]
    (out,), (back,) = marks[4], marks[8]
    assert out.id == back.id == "splice-7" and out.start == T0 + timedelta(seconds=8)
    assert out.scte35_out == section and out.planned_duration == 8.0
    assert back.end == T0 + timedelta(seconds=16) and back.scte35_in is None


def test_a_live_splice_on_a_boundary_opens_there_and_an_in_section_returns_it() -> None:
    breaks = AdBreaks()
    feed(breaks, ["a"], range(2))
    breaks.splice(live(scte35.splice_insert(8, None, None), 3.0, 3.0, None), False)
    back = scte35.splice_insert(8, None, None, out_of_network=False)
    assert breaks.splice(live(back, 9.0, 3.0, None), False) == "returns"
    marks = opened(feed(breaks, ["a"], range(2, 9)))
    assert sorted(marks) == [3, 6]  # 6.0 s exactly: a boundary; 12.0 s likewise
    assert marks[6][0].scte35_in == back


def test_a_cancelled_splice_never_opens_and_a_passed_one_opens_at_once() -> None:
    breaks = AdBreaks()
    feed(breaks, ["a"], range(2))
    breaks.splice(live(scte35.splice_insert(5, 900_000, 90_000), 3.0, 7.0, None), False)
    cancel = bytearray(scte35.splice_insert(5, None, None))
    cancel[18] |= 0x80
    cancel[-4:] = crc32_mpeg2(bytes(cancel[:-4])).to_bytes(4, "big")
    assert breaks.splice(live(bytes(cancel), 4.0, 0.0, None), False) == "cancelled"
    late = scte35.splice_insert(6, 0, 4 * 90_000)  # its point passed 1 s ago
    assert breaks.splice(live(late, 5.0, -1.0, None), False) == "opens"
    marks = opened(feed(breaks, ["a"], range(2, 12)))
    assert [r.id for seq in sorted(marks) for r in marks[seq]] == ["splice-6", "splice-6"]
    assert min(marks) == 2  # the next boundary to come


def test_locked_timestamps_on_another_clock_fall_back_to_dates() -> None:
    """A backup input's clock (an hour off) says nothing about the splice: dates decide."""
    breaks = AdBreaks()
    section = scte35.splice_insert(9, 7 * 90_000, None)
    breaks.splice(live(section, 1.0, 6.0, 3600 * 90_000), True)
    marks = opened(feed(breaks, ["a"], range(6)))
    assert sorted(marks) == [4]


def test_a_live_splice_is_placed_by_when_segments_began_not_by_their_dates() -> None:
    """Playlist dates may run early (a chain anchored on a fast start); a segment's
    arrival less its duration does not: the splice at 8 s opens on the segment that
    began at 8 s (+ latency) though its date says 7.8; it lasts its 4 s by dates."""
    breaks = AdBreaks()
    breaks.splice(live(scte35.splice_insert(3, None, 4 * 90_000), 2.0, 6.0, None), False)
    opened_on = []
    for seq in range(8):
        lines, _ = breaks.marks(seq, T0 + timedelta(seconds=2 * seq - 0.2), None,
                                began=T0 + timedelta(seconds=2 * seq + 0.3))
        opened_on += [seq] * len(lines)
    assert opened_on == [4, 6]


def test_a_live_time_signal_opens_a_placement_opportunity() -> None:
    """The published time_signal (segmentation type 0x34, 201.467 s, event 1073741883)."""
    section = base64.b64decode(SIGNAL_B64)
    breaks = AdBreaks()
    assert breaks.splice(live(section, 1.0, 3.0, None), False) == "opens"
    marks = opened(feed(breaks, ["a"], range(4)))
    assert sorted(marks) == [2]
    (out,) = marks[2]
    assert out.id == "splice-1073741883" and out.scte35_out == section
    assert out.planned_duration == pytest.approx(201.467, abs=1e-3)
