"""The inputs the ingest stage opens (hlsd.ingest.inputs) and the encoders fed by it
(hlsd.encode.ffmpeg.fed_by_ingest): pure argv work, nothing is run."""

from __future__ import annotations

import pytest

from hlsd.config.commands import split_input
from hlsd.encode.ffmpeg import EncoderArgv, encoder_argv, fed_by_ingest
from hlsd.ingest.inputs import (
    ENCODER_FEED_OPTIONS,
    input_specs,
    is_listener,
    reader_argv,
    split_input_options,
)

FF = "/usr/bin/ffmpeg"
PROBE = ["-probesize", "1000000", "-analyzeduration", "1000000"]


def value_of(argv: list[str] | tuple[str, ...], option: str) -> str:
    assert argv.count(option) == 1, f"{option} {argv.count(option)} times in {argv}"
    return argv[argv.index(option) + 1]


def before_input(argv: list[str] | tuple[str, ...]) -> list[str]:
    """The options before the (last) -i."""
    return list(argv[:len(argv) - 1 - list(argv)[::-1].index("-i")])


# -- is_listener ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("location", "listener"), [
    ("srt://0.0.0.0:9000?mode=listener", True),
    ("srt://:9000?mode=listener&latency=200", True),
    ("srt://example.com:9000?mode=caller", False),
    ("srt://example.com:9000", False),
    ("srt://0.0.0.0:9000?listen=1", False),  # SRT says mode=listener, not listen=1
    ("rtmp://0.0.0.0:1935/live/cam", True),
    ("rtmp://[::]:1935/live/cam", True),
    ("rtmps://0.0.0.0/live/cam", True),
    ("rtmp://example.com/live/cam", False),
    ("rtmp://127.0.0.1/live/cam", False),
    ("tcp://0.0.0.0:5000?listen=1", True),
    ("tcp://0.0.0.0:5000?listen=0", False),
    ("tcp://example.com:5000", False),
    ("http://0.0.0.0:8000/feed.ts?listen=1", True),
    ("udp://239.1.1.1:5000", False),
    ("udp://0.0.0.0:5000", False),
    ("/dev/video0", False),
])
def test_is_listener_by_url(location: str, listener: bool) -> None:
    assert is_listener(location) is listener


@pytest.mark.parametrize(("options", "listener"), [
    (["-listen", "1"], True),
    (["-f", "flv", "-listen", "2"], True),
    (["-listen", "0"], False),
    (["-f", "flv"], False),
    (["-re"], False),
])
def test_is_listener_by_the_listen_option(options: list[str], listener: bool) -> None:
    assert is_listener("rtmp://example.com/live/cam", options) is listener


# -- split_input_options --------------------------------------------------------------------------

def test_input_options_go_to_the_reader_and_program_options_stay_with_the_encoder() -> None:
    encoder, reader = split_input_options(
        ["-hide_banner", "-re", "-f", "flv", "-threads", "2", "-loglevel", "error",
         "-stream_loop", "-1", "-listen", "1", "-hwaccel", "cuda", "-c:v", "h264_cuvid"])
    assert encoder == ["-hide_banner", "-threads", "2", "-loglevel", "error",
                       "-hwaccel", "cuda", "-c:v", "h264_cuvid"]
    assert reader == ["-re", "-f", "flv", "-stream_loop", "-1", "-listen", "1"]


def test_flags_without_values_do_not_take_the_next_option_along() -> None:
    encoder, reader = split_input_options(
        ["-re", "-threads", "4", "-copyts", "-nostdin", "-fflags", "+genpts", "-y"])
    assert encoder == ["-threads", "4", "-nostdin", "-y"]
    assert reader == ["-re", "-copyts", "-fflags", "+genpts"]


def test_no_options_split_into_nothing() -> None:
    assert split_input_options([]) == ([], [])


# -- reader_argv ----------------------------------------------------------------------------------

def test_a_reader_relays_the_input_as_mpegts_with_what_hlsd_adds_listed() -> None:
    argv, added = reader_argv(FF, "udp://239.1.1.1:5000", ["-re", "-f", "mpegts"], None)
    assert argv[0] == FF
    assert argv[-1] == "-"
    assert value_of(argv, "-i") == "udp://239.1.1.1:5000"
    head = before_input(argv)
    assert {"-nostdin", "-nostats", "-re"} <= set(head)
    assert value_of(head, "-probesize") == "1000000"
    assert value_of(head, "-analyzeduration") == "1000000"
    tail = argv[len(head):]
    assert value_of(tail, "-f") == "mpegts" and value_of(tail, "-c") == "copy"
    assert value_of(tail, "-flush_packets") == "1"
    assert added == ["-nostdin", "-nostats", *PROBE]
    assert "-listen" not in argv


def test_probe_options_are_added_only_when_absent() -> None:
    argv, added = reader_argv(FF, "udp://239.1.1.1:5000", ["-probesize", "32768"], None)
    assert value_of(argv, "-probesize") == "32768"
    assert value_of(argv, "-analyzeduration") == "1000000"
    assert "-probesize" not in added and "-analyzeduration" in added
    argv, added = reader_argv(FF, "udp://239.1.1.1:5000",
                              ["-analyzeduration", "0", "-probesize", "32"], None)
    assert value_of(argv, "-analyzeduration") == "0" and value_of(argv, "-probesize") == "32"
    assert added == ["-nostdin", "-nostats"]


@pytest.mark.parametrize(("location", "options", "command"), [
    ("rtmp://0.0.0.0:1935/live/cam", [], None),
    ("srt://0.0.0.0:9000?mode=listener", [], None),
    ("rtmp://127.0.0.1:1935/live/cam", ["-listen", "1"], None),
    ("rtmp://127.0.0.1:1935/live/cam", [], "ffmpeg -listen 1 -i %s -c copy -f mpegts -"),
])
def test_a_listener_reader_probes_less_than_a_pull_reader(location: str, options: list[str],
                                                           command: str | None) -> None:
    """A publisher starts with its headers and a keyframe: a shorter probe will do."""
    listener, _ = reader_argv(FF, location, options, command)
    pull, _ = reader_argv(FF, "udp://239.1.1.1:5000", [], None)
    assert int(value_of(listener, "-analyzeduration")) < int(value_of(pull, "-analyzeduration"))
    assert value_of(pull, "-analyzeduration") == "1000000"


def test_an_rtmp_listener_reader_gets_listen_1_once() -> None:
    argv, added = reader_argv(FF, "rtmp://0.0.0.0:1935/live/cam", [], None)
    assert value_of(before_input(argv), "-listen") == "1"
    assert "-listen" in added
    argv, added = reader_argv(FF, "rtmp://0.0.0.0:1935/live/cam", ["-listen", "1"], None)
    assert value_of(argv, "-listen") == "1" and "-listen" not in added


@pytest.mark.parametrize("location", ["rtmp://example.com/live/cam",
                                      "srt://0.0.0.0:9000?mode=listener",
                                      "tcp://0.0.0.0:5000?listen=1"])
def test_listen_1_is_added_only_for_rtmp_listeners(location: str) -> None:
    argv, _ = reader_argv(FF, location, [], None)
    assert "-listen" not in argv


def test_a_source_command_reader_gets_its_input_and_a_flush_per_packet() -> None:
    argv, added = reader_argv(FF, "srt://example.com:9000?mode=caller", ["-ignored"],
                              "ffmpeg -re -i %s -c copy -f mpegts -")
    assert argv[0] == FF
    assert value_of(argv, "-i") == "srt://example.com:9000?mode=caller"
    assert argv[-3:] == ["-flush_packets", "1", "-"]
    assert before_input(argv) == [FF, "-nostdin", "-nostats", *PROBE, "-re"]
    assert added == ["-nostdin", "-nostats", *PROBE, "-flush_packets", "1"]


def test_a_source_command_keeps_its_own_flush_stats_stdin_and_probe_choices() -> None:
    command = ("ffmpeg -nostdin -stats -probesize 5000 -analyzeduration 100 -i %s "
               "-c copy -flush_packets 0 -f mpegts -")
    argv, added = reader_argv(FF, "udp://239.1.1.1:5000", [], command)
    assert added == []
    assert argv == [FF, *command.replace("%s", "udp://239.1.1.1:5000").split()[1:]]


def test_a_non_ffmpeg_source_command_is_left_as_written() -> None:
    command = "gst-launch-1.0 -q srtsrc uri=%s ! fdsink fd=1"
    argv, added = reader_argv(FF, "srt://h:9000", [], command)
    assert argv == ["gst-launch-1.0", "-q", "srtsrc", "uri=srt://h:9000", "!", "fdsink",
                    "fd=1"]
    assert added == []


def test_an_ffmpeg_source_command_without_an_input_is_left_as_written() -> None:
    argv, added = reader_argv(FF, "x", [], "ffmpeg -f lavfi testsrc -f mpegts -")
    assert argv == [FF, "-f", "lavfi", "testsrc", "-f", "mpegts", "-"]
    assert added == []


def test_a_source_command_reader_is_completed_with_the_imageio_ffmpeg_binary() -> None:
    imageio = "/venv/site-packages/imageio_ffmpeg/binaries/ffmpeg-linux-x86_64-v7.0.2"
    argv, added = reader_argv(imageio, "udp://239.1.1.1:5000", [],
                              "ffmpeg -i %s -c copy -f mpegts -")
    assert argv[0] == imageio
    assert "-flush_packets" in added and "-nostdin" in added


# -- input_specs ----------------------------------------------------------------------------------

def test_input_specs_label_each_input_and_judge_each_listener() -> None:
    specs = input_specs(FF, "rtmp://0.0.0.0:1935/live/cam",
                        ("srt://backup.example:9000", "udp://239.1.1.1:5000"), ["-re"], None)
    assert [s.label for s in specs] == ["primary", "backup 1", "backup 2"]
    assert [s.location for s in specs] == ["rtmp://0.0.0.0:1935/live/cam",
                                           "srt://backup.example:9000", "udp://239.1.1.1:5000"]
    assert [s.listener for s in specs] == [True, False, False]
    for spec in specs:
        assert value_of(spec.argv, "-i") == spec.location
        assert "-re" in before_input(spec.argv)
    assert "-listen" in specs[0].added and "-listen" not in specs[1].added
    assert specs[1].added == ("-nostdin", "-nostats", *PROBE)


def test_input_specs_listen_option_makes_every_input_a_listener() -> None:
    specs = input_specs(FF, "rtmp://example.com/live/a", ("rtmp://example.com/live/b",),
                        ["-listen", "1"], None)
    assert [s.listener for s in specs] == [True, True]


def test_a_source_command_with_listen_1_is_a_listener() -> None:
    (spec,) = input_specs(FF, "rtmp://127.0.0.1:1935/live/cam", (), [],
                          "ffmpeg -listen 1 -i %s -c copy -f mpegts -")
    assert value_of(spec.argv, "-listen") == "1"
    assert spec.listener


# -- fed_by_ingest --------------------------------------------------------------------------------

def test_an_encoder_fed_by_ingest_reads_mpegts_from_its_pipe() -> None:
    tail = ["-c:v", "libx264", "-g", "50", "-c:a", "aac", "-f", "mpegts", "-"]
    encoder = EncoderArgv([FF, "-nostats", "-re", "-threads", "2", "-f", "flv", "-listen",
                           "1", "-i", "pipe:0", *tail], ("x",), reads_stdin=True)
    fed = fed_by_ingest(encoder)
    assert fed.argv == [FF, "-nostats", "-threads", "2", *ENCODER_FEED_OPTIONS,
                        "-i", "pipe:0", *tail]
    assert ENCODER_FEED_OPTIONS[:2] == ("-f", "mpegts")
    assert set(PROBE) <= set(ENCODER_FEED_OPTIONS)
    assert fed.added == ("x", *ENCODER_FEED_OPTIONS)
    assert fed.reads_stdin


def test_fed_by_ingest_keeps_the_operators_output_options_from_encoder_argv() -> None:
    command = ("ffmpeg -hide_banner -re -f flv -stream_loop -1 -i %s -vf scale=640:360 "
               "-c:v libx264 -b:v 800k -c:a aac -f mpegts -")
    original = encoder_argv(command, "rtmp://0.0.0.0/live/cam", 4, FF,
                            from_source_command=True)
    fed = fed_by_ingest(original)
    head, tail = split_input(fed.argv)
    assert tail == split_input(original.argv)[1]
    assert "-vf" in tail and "-force_key_frames" in tail  # the keyframe grid too
    assert head == [FF, "-nostats", "-hide_banner", *ENCODER_FEED_OPTIONS, "-i", "pipe:0"]
    assert "-re" not in fed.argv and "-stream_loop" not in fed.argv


@pytest.mark.parametrize("argv", [
    [FF, "-i", "rtmp://example.com/live", "-c", "copy", "-f", "mpegts", "-"],
    [FF, "-f", "lavfi", "testsrc", "-f", "mpegts", "-"],
])
def test_fed_by_ingest_leaves_an_encoder_that_does_not_read_the_pipe(argv: list[str]) -> None:
    encoder = EncoderArgv(list(argv), (), reads_stdin=False)
    assert fed_by_ingest(encoder) == encoder


def test_the_mezzanine_reader_encodes_where_the_relay_copies() -> None:
    (spec,) = input_specs(FF, "/dev/video0", (), ["-f", "v4l2"], None)
    relay, mezzanine = list(spec.argv), list(spec.mezzanine)
    assert "copy" in relay and "copy" not in mezzanine
    assert mezzanine[:mezzanine.index("-c:v")] == relay[:relay.index("-c")]
    assert mezzanine[-3:] == ["-flush_packets", "1", "-"]
    assert "libx264" in mezzanine and "aac" in mezzanine


def test_a_locked_mezzanine_reader_keeps_the_timestamps_too() -> None:
    (spec,) = input_specs(FF, "/dev/video0", (), ["-f", "v4l2"], None, locked=True)
    assert "libx264" in spec.mezzanine and "-copyts" in spec.mezzanine
    assert value_of(spec.mezzanine, "-mpegts_copyts") == "1" and spec.mezzanine[-1] == "-"


def test_a_source_command_reader_has_no_mezzanine() -> None:
    (spec,) = input_specs(FF, "udp://h:1", (), [], "ffmpeg -i %s -c copy -f mpegts -")
    assert spec.mezzanine == ()
