"""EXT-X-DATERANGE (hlsd.media.daterange, RFC 8216bis §4.4.5.1): model → text → model is
exact, other writers' lines read (lowercase hex, 0X, offsets), every MUST of the RFC is a
DateRangeError, and the legacy cue tags."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest

from hlsd.media import daterange, scte35
from hlsd.media.daterange import DateRange, DateRangeError, cue_in, cue_out
from hlsd.media.playlist import PlaylistError

START = datetime(2026, 12, 6, 10, 0, 21, tzinfo=UTC)
SECTION = scte35.splice_insert(22, 21 * 90_000, 8 * 90_000)


def test_render_a_break_start() -> None:
    tag = DateRange("22", START, planned_duration=8, scte35_out=SECTION)
    assert tag.render() == (
        '#EXT-X-DATERANGE:ID="22",START-DATE="2026-12-06T10:00:21.000Z",'
        f"PLANNED-DURATION=8.000,SCTE35-OUT=0x{SECTION.hex().upper()}")


@pytest.mark.parametrize("tag", [
    DateRange("22", START, planned_duration=8, scte35_out=SECTION),
    DateRange("22", START, end=START + timedelta(seconds=8.008), duration=8.008,
              scte35_in=SECTION),
    DateRange("splice-1", START, cls="com.example.ad", end_on_next=True,
              scte35_cmd=b"\xfc\x00"),
    DateRange("a b/c", START, cls="x", end=START, duration=0.0,
              client=(("X-COM-EXAMPLE-AD-ID", '"XYZ123"'), ("X-N", "0x1F"), ("X-F", "2.5"))),
    DateRange("ms", datetime(2026, 1, 1, 0, 0, 0, 123000, tzinfo=UTC)),
])
def test_round_trip(tag: DateRange) -> None:
    line = tag.render()
    assert daterange.parse(line) == tag
    assert daterange.parse(line).render() == line


def test_model_is_held_in_the_tags_precision() -> None:
    """A wall clock's microseconds and any time zone: held as written, UTC milliseconds,
    so the parsed line equals the model."""
    eastern = timezone(timedelta(hours=-5))
    moment = datetime(2026, 12, 6, 5, 0, 21, 123456, tzinfo=eastern)
    tag = DateRange("x", moment, duration=1.23456)
    assert tag.start == datetime(2026, 12, 6, 10, 0, 21, 123000, tzinfo=UTC)
    assert tag.duration == 1.235
    assert daterange.parse(tag.render()) == tag


def test_parse_other_writers_lines() -> None:
    line = ('#EXT-X-DATERANGE:ID="999",START-DATE="2018-08-22T21:54:00.079+00:00",'
            "PLANNED-DURATION=30,SCTE35-OUT=0xfc30,X-COM-EXAMPLE=\"a,b\"")
    tag = daterange.parse(line)
    assert tag.id == "999"
    assert tag.start == datetime(2018, 8, 22, 21, 54, 0, 79000, tzinfo=UTC)
    assert tag.planned_duration == 30.0
    assert tag.scte35_out == b"\xfc\x30"
    assert tag.client == (("X-COM-EXAMPLE", '"a,b"'),)
    upper = daterange.parse('#EXT-X-DATERANGE:ID="1",START-DATE="2018-08-22T21:54:00Z",'
                            "SCTE35-IN=0XFC30")
    assert upper.scte35_in == b"\xfc\x30"


def test_the_section_in_the_tag_parses_back_to_the_event() -> None:
    tag = daterange.parse(DateRange("22", START, scte35_out=SECTION).render())
    assert tag.scte35_out is not None
    info = scte35.parse(tag.scte35_out)
    assert isinstance(info.command, scte35.SpliceInsert)
    assert info.command.event_id == 22 and info.duration == 8.0


@pytest.mark.parametrize(("make", "message"), [
    (lambda: DateRange("", START), "needs an ID"),
    (lambda: DateRange('a"b', START), "quotes"),
    (lambda: DateRange("a\nb", START), "line breaks"),
    (lambda: DateRange("a", START, cls="c\r"), "CLASS"),
    (lambda: DateRange("a", START, end=START - timedelta(seconds=1)), "before START-DATE"),
    (lambda: DateRange("a", START, end=START + timedelta(seconds=2), duration=3),
     "START-DATE \\+ DURATION"),
    (lambda: DateRange("a", START, duration=-1), "DURATION must not be negative"),
    (lambda: DateRange("a", START, planned_duration=-0.5), "PLANNED-DURATION"),
    (lambda: DateRange("a", START, end_on_next=True), "END-ON-NEXT needs a CLASS"),
    (lambda: DateRange("a", START, cls="c", end_on_next=True, duration=1), "excludes"),
    (lambda: DateRange("a", START, cls="c", end_on_next=True, end=START), "excludes"),
    (lambda: DateRange("a", datetime(2026, 1, 1)), "time zone"),
    (lambda: DateRange("a", START, client=(("COM-X", '"v"'),)), "X-"),
    (lambda: DateRange("a", START, client=(("X-A", "v"),)), "not a string"),
])
def test_rule_violations(make: Callable[[], DateRange], message: str) -> None:
    with pytest.raises(DateRangeError, match=message):
        make()


@pytest.mark.parametrize(("line", "message"), [
    ('#EXT-X-PROGRAM-DATE-TIME:2026-12-06T10:00:21.000Z', "not an"),
    ('#EXT-X-DATERANGE:START-DATE="2026-12-06T10:00:21.000Z"', "needs ID"),
    ('#EXT-X-DATERANGE:ID="a"', "needs ID and START-DATE"),
    ('#EXT-X-DATERANGE:ID=a,START-DATE="2026-12-06T10:00:21.000Z"', "quoted-string"),
    ('#EXT-X-DATERANGE:ID="a",START-DATE="yesterday"', "ISO 8601"),
    ('#EXT-X-DATERANGE:ID="a",START-DATE="2026-12-06T10:00:21"', "time zone"),
    ('#EXT-X-DATERANGE:ID="a",START-DATE="2026-12-06T10:00:21Z",DURATION=abc', "decimal"),
    ('#EXT-X-DATERANGE:ID="a",START-DATE="2026-12-06T10:00:21Z",SCTE35-OUT=FC30', "hexa"),
    ('#EXT-X-DATERANGE:ID="a",START-DATE="2026-12-06T10:00:21Z",SCTE35-OUT=0xFC3', "hexa"),
    ('#EXT-X-DATERANGE:ID="a",START-DATE="2026-12-06T10:00:21Z",END-ON-NEXT=NO', "YES"),
    ('#EXT-X-DATERANGE:ID="a",ID="b",START-DATE="2026-12-06T10:00:21Z"', "twice"),
    ('#EXT-X-DATERANGE:ID="a",START-DATE="2026-12-06T10:00:21Z",', "malformed"),
    ('#EXT-X-DATERANGE:ID="a",START-DATE="2026-12-06T10:00:21Z",FOO=1', "unsupported"),
    ('#EXT-X-DATERANGE:ID="a",START-DATE="2026-12-06T10:00:21Z",END-ON-NEXT=YES', "CLASS"),
    ('#EXT-X-DATERANGE:ID="a",START-DATE="2026-12-06T10:00:21Z",DURATION=-1', "negative"),
])
def test_parse_errors(line: str, message: str) -> None:
    with pytest.raises(DateRangeError, match=message):
        daterange.parse(line)


def test_errors_are_playlist_errors() -> None:
    assert issubclass(DateRangeError, PlaylistError)


def test_legacy_cue_tags() -> None:
    assert cue_out(30) == "#EXT-X-CUE-OUT:DURATION=30.000"
    assert cue_out(8.0083) == "#EXT-X-CUE-OUT:DURATION=8.008"
    assert cue_in() == "#EXT-X-CUE-IN"
    with pytest.raises(DateRangeError):
        cue_out(-1)
