"""hlsd-segmenter --cut-at: extra segment boundaries (ad splice points) on top of the grid,
which goes on undisturbed after each."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.encode.test_segmenter import BINARY, FRAME, check_contract, segment
from tests.fixtures.media import MakeTs, source_duration

pytestmark = pytest.mark.e2e


def starts(run_segments: list[dict[str, object]]) -> list[float]:
    first = int(str(run_segments[0]["pts"]))
    return [round((int(str(s["pts"])) - first) / 90000, 3) for s in run_segments]


def test_cuts_at_the_given_times_and_the_grid_goes_on(make_ts: MakeTs, tmp_path: Path) -> None:
    """Keyframes every second, 2 s grid, --cut-at 3,5: boundaries at 0 2 3 4 5 6 (3 and 5
    extra, a short segment before each, the grid's 4 and 6 kept); the numbers run on;
    the durations still add up to the source."""
    source = make_ts(8)
    run = segment(source.read_bytes(), tmp_path, "--cut-at", "3,5")
    check_contract(run)
    assert starts(run.segments) == [0.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    assert [s["seq"] for s in run.segments] == list(range(6))
    assert all(s["keyframe"] for s in run.segments)
    assert run.total == pytest.approx(source_duration(source), abs=FRAME)


def test_a_cut_between_keyframes_waits_for_the_next_and_one_on_the_grid_adds_nothing(
        make_ts: MakeTs, tmp_path: Path) -> None:
    source = make_ts(8)
    run = segment(source.read_bytes(), tmp_path, "--cut-at", "0,2,2.5,6.99")
    assert starts(run.segments) == [0.0, 2.0, 3.0, 4.0, 6.0, 7.0]


@pytest.mark.parametrize("value", ["3,2", "-1", "3,", "a", "1,,2"])
def test_bad_cut_lists_are_refused(value: str, tmp_path: Path) -> None:
    proc = subprocess.run([BINARY, "--duration", "2", "--dir", str(tmp_path), "--prefix",
                           "s", "--cut-at", value], input=b"", capture_output=True, timeout=10)
    assert proc.returncode == 2 and b"--cut-at" in proc.stderr
    locked = subprocess.run([BINARY, "--duration", "2", "--dir", str(tmp_path), "--prefix",
                             "s", "--cut-at", "3", "--timeline", "locked"], input=b"",
                            capture_output=True, timeout=10)
    assert locked.returncode == 2 and b"--cut-at" in locked.stderr


def cut_fd_run(data: bytes, out_dir: Path, lines: bytes, *args: str) -> list[float]:
    """Segment starts (s after the first) with `lines` waiting on --cut-fd."""
    read_end, write_end = os.pipe()
    os.write(write_end, lines)
    os.close(write_end)
    try:
        proc = subprocess.run([BINARY, "--duration", "2", "--dir", str(out_dir), "--prefix",
                               "seg", "--cut-fd", str(read_end), *args], input=data,
                              capture_output=True, timeout=60, check=False,
                              pass_fds=(read_end,))
    finally:
        os.close(read_end)
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    return starts([e for e in events if e["event"] == "segment"])


@pytest.mark.parametrize("audio_only", [False, True])
def test_cut_points_given_while_running_cut_like_cut_at(
        make_ts: MakeTs, tmp_path: Path, audio_only: bool) -> None:
    """--cut-fd: PTS lines of the segmenter's own clock (an unusable line skipped): video
    cuts at the keyframe there, audio-only at the frame there; the grid goes on."""
    source = make_ts(8, video=not audio_only)
    if audio_only:  # one frame per PES, as hlsd has audio-only rungs written
        subprocess.run(["ffmpeg", "-v", "error", "-i", str(source), "-c", "copy",
                        "-pes_payload_size", "0", str(tmp_path / "a.ts")], check=True)
        source = tmp_path / "a.ts"
    first = int(str(segment(source.read_bytes(), tmp_path / "plain").segments[0]["pts"]))
    lines = f"{first + 3 * 90000}\nnonsense\n{first + 5 * 90000}\n".encode()
    got = cut_fd_run(source.read_bytes(), tmp_path / "cut", lines)
    if audio_only:  # cut at the frame at or after each point (half a frame early counts)
        assert [round(t) for t in got[:6]] == [0, 2, 3, 4, 5, 6], got
        assert all(abs(t - round(t)) < 0.025 for t in got[:6]), got
    else:
        assert got == [0.0, 2.0, 3.0, 4.0, 5.0, 6.0]


def test_cut_fd_is_refused_with_locked_and_when_not_open(tmp_path: Path) -> None:
    base = [BINARY, "--duration", "2", "--dir", str(tmp_path), "--prefix", "s"]
    for args in (["--cut-fd", "99"], ["--cut-fd", "1"], ["--cut-fd", "x"]):
        proc = subprocess.run([*base, *args], input=b"", capture_output=True, timeout=10)
        assert proc.returncode == 2 and b"--cut-fd" in proc.stderr, args
