"""timeline: locked encoders and readers keep the input's clock (argv only; the behaviour is
tested end to end in tests/faults/test_locked.py)."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import pytest

from hlsd.encode.ffmpeg import encoder_argv, fed_by_ingest
from hlsd.encode.locked import lock_encoder, select_on_grid
from hlsd.ingest.inputs import input_specs


def locked(command: str, length: float = 2.0) -> list[str]:
    fed = fed_by_ingest(encoder_argv(command, "udp://x", length, "ffmpeg", True))
    return lock_encoder(fed, length).argv


def test_encoder_keeps_timestamps_and_cuts_on_the_grid() -> None:
    argv = locked("ffmpeg -i %s -c:v libx264 -force_key_frames 0,1 -c:a aac -f mpegts -")
    head = argv[:argv.index("pipe:0")]
    assert "-copyts" in head
    assert argv[-1] == "-"
    out = argv[argv.index("pipe:0"):]
    for option, value in [("-mpegts_copyts", "1"), ("-avoid_negative_ts", "disabled"),
                          ("-enc_time_base:v", "1:90000"), ("-fps_mode:v", "passthrough")]:
        assert out[out.index(option) + 1] == value
    # The command's own keyframes are replaced by the grid's.
    assert argv.count("-force_key_frames") == 1
    assert "0,1" not in argv
    assert out[out.index("-vf") + 1] == f"select='{select_on_grid(2.0)}'"


def test_select_goes_in_front_of_the_commands_filters() -> None:
    argv = locked("ffmpeg -i %s -vf scale=320:180 -c:v libx264 -f mpegts -")
    assert argv.count("-vf") == 1
    assert argv[argv.index("-vf") + 1].endswith("',scale=320:180")


def test_audio_only_and_copied_video_get_no_video_options() -> None:
    for command in ("ffmpeg -i %s -vn -c:a aac -f mpegts -",
                    "ffmpeg -i %s -c:v copy -c:a aac -f mpegts -"):
        argv = locked(command)
        assert "-vf" not in argv and "-force_key_frames" not in argv, argv
        assert "-copyts" in argv and "-mpegts_copyts" in argv


def test_readers_keep_timestamps_only_when_locked() -> None:
    """Else ffmpeg re-bases a source that starts again rather than clamping its times."""
    plain, = input_specs("ffmpeg", "udp://127.0.0.1:5000", (), [], None)
    lock, = input_specs("ffmpeg", "udp://127.0.0.1:5000", (), [], None, locked=True)
    assert "-copyts" not in plain.argv and "-copyts" not in plain.mezzanine
    i = lock.argv.index("-i")
    assert "-copyts" in lock.argv[:i] and "-avoid_negative_ts" in lock.argv[i:]
    assert lock.argv[-1] == "-" and "-copyts" in lock.added


@pytest.mark.parametrize("start", [0.0, 95443.7 - 20])
def test_ffmpeg_accepts_the_expression(tmp_path: Path, start: float) -> None:
    """The select expression parses and keeps the frames from the first boundary on."""
    out = tmp_path / "o.ts"
    argv = ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=64x36:rate=25",
            "-t", "3", "-output_ts_offset", str(start), "-vf",
            f"select='{select_on_grid(1.0)}'", "-c:v", "libx264", "-f", "mpegts", str(out)]
    subprocess.run(argv, check=True, capture_output=True)
    frames = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0",
                             "-count_frames", "-show_entries", "stream=nb_read_frames",
                             "-of", "csv=p=0", str(out)],
                            capture_output=True, text=True, check=True).stdout.split()[0]
    # 3 s of frames, those before the first boundary (at most one second's) dropped.
    assert 50 <= int(frames.rstrip(",")) < 75, shlex.join(argv)
