"""A rung encoder that keys a live input's marked splice frames (hlsd.encode.splicekeys)."""

from __future__ import annotations

import shlex

from hlsd.encode.ffmpeg import EncoderArgv, encoder_argv, fed_by_ingest
from hlsd.encode.splicekeys import EXACT_TIMES, SPLICE_KEYFRAME, keys_splices, retimes


def rung(options: str) -> EncoderArgv:
    return fed_by_ingest(encoder_argv(f"ffmpeg -i %s {options} -f mpegts -", "udp://x", 2.0,
                                      "/usr/bin/ffmpeg", from_source_command=True))


def test_the_grid_gets_the_odd_frame_term_and_exact_times() -> None:
    encoder = rung("-c:v libx264 -c:a aac")
    keyed = keys_splices(encoder)
    assert keyed is not None
    grid = keyed.argv[keyed.argv.index("-force_key_frames") + 1]
    assert grid.startswith("expr:") and grid.endswith(SPLICE_KEYFRAME)
    assert keyed.argv[-len(EXACT_TIMES) - 1:-1] == list(EXACT_TIMES)
    assert keyed.argv[-1] == "-" and keyed.reads_stdin
    assert SPLICE_KEYFRAME in keyed.added


def test_audio_only_rungs_are_as_they_were() -> None:
    encoder = rung("-vn -c:a aac")
    assert keys_splices(encoder) == encoder


def test_rungs_that_cannot_key_the_mark() -> None:
    assert keys_splices(rung("-c:v libx264 -force_key_frames 0,2,4")) is None  # their own
    assert keys_splices(rung("-c:v libx264 -g 50")) is None
    assert keys_splices(rung("-c:v libx264 -r 30")) is None  # retimed: the mark is lost


def test_retiming_options_and_filters_are_named() -> None:
    def named(options: str) -> str | None:
        return retimes(shlex.split(f"ffmpeg -i x {options} -f mpegts -"))

    assert named("-c:v libx264 -vf scale=640:-2") is None
    assert named("-r 25") == "-r"
    assert named("-fps_mode cfr") == "-fps_mode"
    assert named("-vf scale=640:-2,fps=30") == "-vf fps"
    assert named("-vf yadif=1") == "-vf yadif=1"
    assert named("-vf yadif=0,scale=640:-2") is None  # one frame per frame: kept
    assert named("-filter:v setpts=PTS-STARTPTS") == "-filter:v setpts"
    assert named("-r 25 -i x2 -c:v libx264") is None  # an input option
