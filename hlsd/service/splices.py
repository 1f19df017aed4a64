"""The input's ad breaks. A file's are known before encoding: its SCTE-35 sections are read
(hlsd.ingest.tsfile), placed and planned (hlsd.media.splices); the splice points become
every rung's cut points (config.splice_points) and the breaks are handed to the intake's
cue desk. A live input's come as they arrive: LiveSplices reads the packets of the input on
air (hlsd.media.livesplices) and hands its sections to the cue desk."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import structlog

from hlsd import config as cfg
from hlsd.config.location import local_path
from hlsd.encode.livecuts import LiveCuts
from hlsd.ingest.tsfile import is_transport_stream, read_packets
from hlsd.media.livesplices import SpliceReader, relay_offset
from hlsd.media.ptsmark import InputMarks
from hlsd.media.splices import LiveSplice, PlannedBreak, SpliceScanner, cut_points, plan
from hlsd.publish.cues import CueDesk
from hlsd.service.metrics import Metrics

log = structlog.get_logger()

ERROR_REPORT = 10.0  # seconds: bad sections are logged once per burst, counted always


class LiveSplices:
    """Reads the SCTE-35 of a live input on air (the ingest stage's SourcePackets): its
    sections to the cue desk, the ones that cannot be used to hlsd_scte35_errors_total.
    `exact`: timeline: locked, the segments' timestamps are the input's (else the splice
    point is placed by the wall clock). With `cuts` (timeline: local) the splice frames
    are marked in the packets on their way to the encoders (hlsd.media.ptsmark) and every
    segmenter is told to cut there as they pass."""

    def __init__(self, cues: CueDesk, metrics: Metrics, exact: bool,
                 cuts: LiveCuts | None = None) -> None:
        self._cues = cues
        self._metrics = metrics
        self._exact = exact
        self._cuts = None if exact else cuts
        self._readers: dict[int, SpliceReader] = {}  # per input: its own PIDs and clock
        self._marks: dict[int, InputMarks] = {}
        self._late: dict[int, int] = {}  # per input: its late splice points, as logged
        self._unreported = 0
        self._reported_at = -ERROR_REPORT

    def source_packets(self, index: int, chunk: memoryview) -> None:
        reader = self._reader(index)
        reader.feed(chunk, time.time())
        if reader.late > self._late.get(index, 0):
            log.warning("SCTE-35 splice point came after its frame had gone to the "
                        "encoders: the break opens on the next segment boundary",
                        count=reader.late - self._late.get(index, 0))
        self._late[index] = reader.late

    def source_line(self, index: int, line: str) -> None:
        offset = relay_offset(line)
        if offset is not None and not self._exact:  # (locked: the input's own clock)
            self._reader(index).rebase(offset)
        if self._cuts is not None:
            self._input_marks(index).line(line)

    def rewrite(self, index: int, chunk: memoryview, on_air: bool) -> None:
        if self._cuts is None:
            return
        for point in self._input_marks(index).rewrite(chunk):
            if on_air:  # (a point left pending by an input switched away: no cut)
                self._cuts.cut(point)

    def marks(self, index: int) -> bool | None:
        return False if self._cuts is None else self._input_marks(index).cued

    def _input_marks(self, index: int) -> InputMarks:
        if index not in self._marks:
            self._marks[index] = InputMarks()
        return self._marks[index]

    def _reader(self, index: int) -> SpliceReader:
        if index not in self._readers:
            marker = None if self._cuts is None else self._input_marks(index).marker
            self._readers[index] = SpliceReader(self, self._exact, marker)
        return self._readers[index]

    def splice(self, splice: LiveSplice) -> None:
        """With exact cuts the break is placed by PTS on the rungs' own clock (the segment
        that starts at the cut), as with timeline: locked; else by the wall clock."""
        at = None if self._cuts is None or splice.relay_pts is None else \
            self._cuts.output_pts(splice.relay_pts)
        if at is not None:
            self._cues.splice(replace(splice, pts=at), True)
        else:
            self._cues.splice(splice, self._exact)

    def splice_errors(self, count: int) -> None:
        self._metrics.scte35_errors(count)
        self._unreported += count
        now = time.monotonic()
        if now - self._reported_at >= ERROR_REPORT:
            log.warning("SCTE-35 sections of the input skipped (bad CRC, truncated, "
                        "encrypted or lost)", count=self._unreported)
            self._unreported, self._reported_at = 0, now


def input_file(config: cfg.Config) -> Path | None:
    """The finite MPEG-TS file the encoders read, or None."""
    path = local_path(config.input_location)
    reads = any("%s" in p.ffmpeg_command for p in config.encoding_profiles)
    if config.live or path is None or config.source_command is not None or not reads:
        return None  # (a source_command may turn the file into anything)
    file = Path(path).expanduser()
    return file if is_transport_stream(file) else None


def find_breaks(config: cfg.Config) -> tuple[cfg.Config, list[PlannedBreak], int]:
    """The config with the breaks' cut points, the breaks, and the sections skipped."""
    file = input_file(config)
    if file is None:
        return config, [], 0
    scanner = SpliceScanner()
    began = time.monotonic()
    try:
        read_packets(file, scanner.feed)
    except OSError as exc:  # the encoders will say it too; no breaks is no reason to stop
        log.warning("cannot read the input for SCTE-35", path=str(file), error=exc.strerror)
        return config, [], 0
    scanner.finish()
    breaks = plan(scanner.splices)
    if scanner.errors:
        log.warning("SCTE-35 sections skipped", count=scanner.errors, path=str(file))
    points = cut_points(breaks)
    if breaks:
        log.info("SCTE-35 ad breaks found", breaks=len(breaks), cut_points=list(points),
                 seconds=round(time.monotonic() - began, 3))
    return replace(config, splice_points=points), breaks, scanner.errors
