"""WebVTT cues read in pieces and cut into subtitle segments (pure)."""

from __future__ import annotations

import pytest

from hlsd.encode.webvtt import (
    Cue,
    CueReader,
    WebVttError,
    cues_in,
    overlapping,
    parse_segment,
    render_segment,
    timestamp,
)

STREAM = """WEBVTT\r\n\r\nNOTE made by ffmpeg\r\n\r\n00:01.021 --> 00:03.021 align:start
First cue
two lines

intro
01:00:07.500 --> 01:00:09.000
Second

"""


def test_cues_complete_only_at_their_blank_line_whatever_the_pieces() -> None:
    reader = CueReader()
    got: list[Cue] = []
    for i in range(0, len(STREAM), 7):  # pieces that split timings and line ends
        got += reader.feed(STREAM[i:i + 7])
    got += reader.close()
    assert got == [Cue(1.021, 3.021, "First cue\ntwo lines", "align:start"),
                   Cue(3607.5, 3609.0, "Second", "", "intro")]
    assert list(cues_in(STREAM)) == got


def test_not_webvtt_is_refused() -> None:
    with pytest.raises(WebVttError):
        CueReader().feed("1\n00:00:01,000 --> 00:00:02,000\nSubRip\n\n")


def test_a_cue_across_a_boundary_is_in_both_segments() -> None:
    cues = [Cue(1, 3, "a"), Cue(3.5, 4.5, "b"), Cue(4, 5, "c")]
    assert [c.text for c in overlapping(cues, 0, 4)] == ["a", "b"]
    assert [c.text for c in overlapping(cues, 4, 8)] == ["b", "c"]


def test_segments_round_trip_with_their_timestamp_map() -> None:
    cues = [Cue(3607.5, 3609.0, "Second", "line:0", "intro")]
    text = render_segment(cues, 126_000 + (1 << 33))  # written modulo 2^33
    assert text.startswith("WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:126000,LOCAL:00:00:00.000\n\n")
    assert "01:00:07.500 --> 01:00:09.000 line:0\nSecond\n" in text
    assert parse_segment(text) == (126_000, cues)
    assert timestamp(0.0016) == "00:00:00.002" and timestamp(-1) == "00:00:00.000"
