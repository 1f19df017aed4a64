"""Exact cut points for a live input's ad splices, told to the running segmenters.

The splice frame is marked in the input (hlsd.media.ptsmark) as it passes through hlsd on
its way to the encoders, which key it (hlsd.encode.splicekeys); at that moment every
running segmenter is told where to cut, on its own clock, through its `--cut-fd` pipe:
the relay's PTS P of the splice point becomes P − S + Z, S its encoder's input start time
(ffmpeg's "Duration: …, start: S" line: it subtracts it) and Z where ffmpeg's MPEG-TS
muxer puts output time 0. A video rung cuts at its keyframe there, an audio-only one at
its frame there, so the numbers stay aligned. A point reached before the encoder said
its start waits for that line (it comes before the encoder's first output).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable

import structlog

from hlsd.config.commands import start_ticks
from hlsd.ingest.feed import LiveFeed

log = structlog.get_logger()

WRAP = 1 << 33


class LiveCuts:
    """The runs that take cut points now (one per encoder group running with marks)."""

    def __init__(self) -> None:
        self._runs: list[CutRun] = []

    def open(self, group: str, feed: LiveFeed, zeros: list[int]) -> CutRun | None:
        """The cut pipes of a new encoder run whose rungs' outputs put time 0 at `zeros`
        (90 kHz), when the input on air marks its splices."""
        if not feed.marks_splices(group):
            return None
        run = CutRun(self, group, zeros)
        self._runs.append(run)
        return run

    def cut(self, point: int) -> None:
        """The splice frame at relay PTS `point` has just been marked."""
        for run in self._runs:
            run.cut(point)

    def output_pts(self, point: int) -> int | None:
        """Relay PTS `point` on the rungs' output clock, when every running rung has the
        same (an encoder started apart from the others has another); else None."""
        found = {run.output_pts(point) for run in self._runs}
        if len(found) != 1:
            return None
        (one,) = found
        return one

    def _closed(self, run: CutRun) -> None:
        with contextlib.suppress(ValueError):
            self._runs.remove(run)


class CutRun:
    """One encoder run's cut pipes (a segmenter reads each with --cut-fd)."""

    def __init__(self, hub: LiveCuts, group: str, zeros: list[int]) -> None:
        self._hub = hub
        self._group = group
        self._zeros = zeros
        pipes = [os.pipe() for _ in zeros]
        self._read = [r for r, _ in pipes]  # until the segmenters hold them
        self._write = [w for _, w in pipes]
        for write_fd in self._write:
            os.set_blocking(write_fd, False)
        self._start: int | None = None
        self._waiting: list[int] = []

    def segmenter_args(self, rung: int) -> tuple[list[str], tuple[int, ...]]:
        """(arguments, descriptors to pass) for rung `rung`'s segmenter."""
        read_fd = self._read[rung]
        return ["--cut-fd", str(read_fd)], (read_fd,)

    def spawned(self) -> None:
        """The segmenters hold their read ends now."""
        _close(self._read)
        self._read = []

    def encoder_line(self, then: Callable[[str], None]) -> Callable[[str], None]:
        """A stderr handler for the encoder: notes its start, then hands the line on."""
        def handle(line: str) -> None:
            start = start_ticks(line)
            if start is not None and self._start is None:
                self._start = start
                waiting, self._waiting = self._waiting, []
                for point in waiting:
                    self.cut(point)
            then(line)
        return handle

    def output_pts(self, point: int) -> int | None:
        """`point` on this run's rungs' clock: None before the encoder said its start, or
        when its rungs' clocks differ."""
        if self._start is None or len(set(self._zeros)) != 1:
            return None
        return (point - self._start + self._zeros[0]) % WRAP

    def cut(self, point: int) -> None:
        if self._start is None:
            self._waiting.append(point)
            return
        for write_fd, zero in zip(self._write, self._zeros, strict=True):
            at = (point - self._start + zero) % WRAP
            try:
                os.write(write_fd, f"{at}\n".encode())
            except OSError as exc:  # a segmenter gone, or one that reads no cuts
                log.warning("cannot tell a segmenter where to cut", group=self._group,
                            error=str(exc))
        log.info("ad splice cut point sent", group=self._group, relay_pts=point,
                 encoder_start=self._start)

    def close(self) -> None:
        self._hub._closed(self)
        _close([*self._read, *self._write])
        self._read, self._write, self._zeros = [], [], []


def _close(fds: list[int]) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)


def with_start(run: CutRun | None, then: Callable[[str], None]) -> Callable[[str], None]:
    """The encoder's stderr handler: `then`, after `run` took its start line."""
    return then if run is None else run.encoder_line(then)
