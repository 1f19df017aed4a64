"""Telling running segmenters where a live splice frame is (hlsd.encode.livecuts)."""

from __future__ import annotations

import os

from hlsd.encode.livecuts import LiveCuts


class Feed:
    def __init__(self, marks: bool) -> None:
        self.marks = marks
        self.asked: list[str] = []

    def marks_splices(self, name: str) -> bool:
        self.asked.append(name)
        return self.marks


def read_lines(fd: int) -> list[int]:
    os.set_blocking(fd, False)
    try:
        return [int(line) for line in os.read(fd, 4096).split()]
    except BlockingIOError:
        return []


def test_a_point_is_mapped_onto_each_rungs_clock_once_the_encoder_said_its_start() -> None:
    hub = LiveCuts()
    feed = Feed(True)
    run = hub.open("ladder", feed, [126_000, 0])  # type: ignore[arg-type]
    assert run is not None and feed.asked == ["ladder"]
    fds = []
    for rung in (0, 1):
        args, passed = run.segmenter_args(rung)
        assert args == ["--cut-fd", str(passed[0])]
        fds.append(os.dup(passed[0]))  # what the segmenter would hold
    run.spawned()
    lines: list[str] = []
    handle = run.encoder_line(lines.append)
    hub.cut(1_477_921)  # before the start line: waits for it
    assert [read_lines(fd) for fd in fds] == [[], []]
    handle("  Duration: N/A, start: 3.085333, bitrate: N/A")  # 277680 ticks
    assert lines == ["  Duration: N/A, start: 3.085333, bitrate: N/A"]
    assert [read_lines(fd) for fd in fds] == [[1_477_921 - 277_680 + 126_000],
                                              [1_477_921 - 277_680]]
    hub.cut(2)  # across the 33-bit wrap
    assert [read_lines(fd) for fd in fds] == [[(2 - 277_680 + 126_000) % (1 << 33)],
                                              [(2 - 277_680) % (1 << 33)]]
    run.close()
    hub.cut(5)  # a closed run takes no more
    assert read_lines(fds[0]) == []
    for fd in fds:
        os.close(fd)


def test_no_run_for_an_input_without_marks() -> None:
    assert LiveCuts().open("hi", Feed(False), [126_000]) is None  # type: ignore[arg-type]


def test_one_output_time_only_while_every_run_agrees() -> None:
    """The break is placed by PTS only when every running rung has the same clock."""
    hub = LiveCuts()
    first = hub.open("hi", Feed(True), [126_000])  # type: ignore[arg-type]
    second = hub.open("lo", Feed(True), [126_000])  # type: ignore[arg-type]
    assert first is not None and second is not None
    assert hub.output_pts(500_000) is None  # no start line yet
    first.encoder_line(lambda _: None)("  Duration: N/A, start: 1.400000, bitrate: N/A")
    assert hub.output_pts(500_000) is None  # the other one has not said its own
    second.encoder_line(lambda _: None)("  Duration: N/A, start: 1.400000, bitrate: N/A")
    assert hub.output_pts(500_000) == 500_000
    late = hub.open("aud", Feed(True), [126_000])  # type: ignore[arg-type]
    assert late is not None
    late.encoder_line(lambda _: None)("  Duration: N/A, start: 9.000000, bitrate: N/A")
    assert hub.output_pts(500_000) is None  # a rung restarted apart: its own clock
    for run in (first, second, late):
        run.close()
