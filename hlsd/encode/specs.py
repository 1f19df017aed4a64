"""What an encoder pipeline is made of, as plain data: its rungs' segmenter settings, the
ladder's segment grid, and the encoder group that writes them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hlsd.encode.livecuts import LiveCuts
from hlsd.ingest.feed import LiveFeed

FINITE_STALL = 120.0  # seconds without a segment before a file encode counts as stuck


@dataclass(frozen=True)
class Grid:
    """Where the ladder's segment grid is: segment `seq` started at `pts` (90 kHz)."""

    pts: int
    seq: int


@dataclass(frozen=True)
class RungSpec:
    """One rung's segmenter side."""

    name: str
    segmenter: str
    workdir: Path
    prefix: str  # segment file prefix: <segment_prefix>_<rung>
    segment_length: float
    max_duration: float
    segment_format: str = "ts"  # ts | fmp4
    part_duration: float | None = None  # LL-HLS parts (fmp4)
    timeline: str = "local"  # locked: the segmenter cuts and numbers on the input's clock
    cuts: tuple[float, ...] = ()  # extra boundaries: seconds after the first frame

    def segmenter_argv(self, start_seq: int, grid: Grid | None = None) -> list[str]:
        argv = [self.segmenter, "--duration", f"{self.segment_length:g}",
                "--max-duration", f"{self.max_duration:g}", "--dir", str(self.workdir),
                "--prefix", self.prefix, "--start-seq", str(start_seq)]
        if self.segment_format != "ts":  # older segmenters know no --format
            argv += ["--format", self.segment_format]
        if self.part_duration is not None:
            argv += ["--part-duration", f"{self.part_duration:g}"]
        if self.timeline == "locked":
            argv += ["--timeline", "locked"]  # its own grid: no origin to rejoin
        elif grid is not None:
            argv += ["--grid-origin", str(grid.pts), "--grid-seq", str(grid.seq)]
        if self.cuts and self.timeline != "locked":
            argv += ["--cut-at", ",".join(f"{t:.3f}" for t in self.cuts)]
        return argv


@dataclass(frozen=True)
class GroupSpec:
    """One encoder process and the rungs it writes (one, or all in shared-decode mode)."""

    name: str
    rungs: tuple[RungSpec, ...]
    argv: Callable[[list[int]], list[str]]  # write fds (one per rung) -> encoder argv
    live: bool
    stdin: Callable[[], Any] | None = None  # encoder stdin for '-' / source_command inputs
    first_segment_grace: float = 15.0  # inputs (rtmp, srt) may take a while to open
    feed: LiveFeed | None = None  # the ingest stage, when it owns the input
    # timeline: locked: every run continues the input's clock, so a new run of the same
    # source is no discontinuity (and redundant hosts keep one discontinuity sequence).
    locked: bool = False
    # A live input's exact ad splice cuts (timeline: local): the encoder's argv that keys
    # the marked splice frames, and each rung's MPEG-TS time 0 (hlsd.encode.livecuts).
    marked_argv: Callable[[list[int]], list[str]] | None = None
    cuts: LiveCuts | None = None
    zeros: tuple[int, ...] = ()

    def encoder_argv(self, write_fds: list[int], marked: bool) -> list[str]:
        """`marked`: the input on air marks its splice frames."""
        argv = self.marked_argv if marked and self.marked_argv is not None else self.argv
        return argv(write_fds)

    @property
    def stall_after(self) -> float:
        # A file may encode slower than real time on a busy machine; only a live
        # encoder must keep pace with the clock.
        longest = max(r.segment_length for r in self.rungs)
        return 3 * longest if self.live else max(3 * longest, FINITE_STALL)
