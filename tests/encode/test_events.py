"""Segmenter event lines → typed events."""

from __future__ import annotations

import pytest

from hlsd.encode.events import EventError, SegmentReady, StreamEnd, StreamInfo, parse_line


def test_segment_event_from_design_md() -> None:
    ev = parse_line('{"event":"segment","seq":17,"file":"/w/live_ep-00017.ts",'
                    '"duration":4.004,"pts":1234567,"bytes":1880000,"keyframe":true}')
    assert ev == SegmentReady(17, "/w/live_ep-00017.ts", 4.004, 1234567, 1880000, True)


def test_stream_event_codecs_attribute() -> None:
    ev = parse_line(b'{"event":"stream","video":{"codec":"avc1.64001f","width":1280,'
                    b'"height":720,"fps":30.0},"audio":{"codec":"mp4a.40.2"}}')
    assert isinstance(ev, StreamInfo)
    assert ev.codecs == "avc1.64001f,mp4a.40.2" and ev.video and ev.video.height == 720
    audio_only = parse_line('{"event":"stream","audio":{"codec":"mp4a.40.2"}}')
    assert isinstance(audio_only, StreamInfo) and audio_only.codecs == "mp4a.40.2"


def test_end_and_unknown_events() -> None:
    assert parse_line('{"event":"end","segments":42,"duration":168.168}') == StreamEnd(42,
                                                                                      168.168)
    assert parse_line('{"event":"stats","corrupt":3}') is None


def test_discontinuity_flag() -> None:
    ev = parse_line('{"event":"segment","seq":1,"file":"f","duration":1,"pts":0,"bytes":1,'
                    '"keyframe":true,"discontinuity":true}')
    assert isinstance(ev, SegmentReady) and ev.discontinuity


@pytest.mark.parametrize("line", ["not json", "[]", '{"seq":1}',
                                  '{"event":"segment","seq":"1","file":"f","duration":1,'
                                  '"pts":0,"bytes":1}',
                                  '{"event":"segment","seq":true,"file":"f","duration":1,'
                                  '"pts":0,"bytes":1}'])
def test_malformed_lines_raise(line: str) -> None:
    with pytest.raises(EventError):
        parse_line(line)
