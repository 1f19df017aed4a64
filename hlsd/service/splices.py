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
from hlsd.ingest.tsfile import is_transport_stream, read_packets
from hlsd.media.livesplices import SpliceReader, relay_offset
from hlsd.media.splices import LiveSplice, PlannedBreak, SpliceScanner, cut_points, plan
from hlsd.publish.cues import CueDesk
from hlsd.service.metrics import Metrics

log = structlog.get_logger()

ERROR_REPORT = 10.0  # seconds: bad sections are logged once per burst, counted always


class LiveSplices:
    """Reads the SCTE-35 of a live input on air (the ingest stage's SourcePackets): its
    sections to the cue desk, the ones that cannot be used to hlsd_scte35_errors_total.
    `exact`: timeline: locked, the segments' timestamps are the input's (else the splice
    point is placed by the wall clock)."""

    def __init__(self, cues: CueDesk, metrics: Metrics, exact: bool) -> None:
        self._cues = cues
        self._metrics = metrics
        self._exact = exact
        self._readers: dict[int, SpliceReader] = {}  # per input: its own PIDs and clock
        self._unreported = 0
        self._reported_at = -ERROR_REPORT

    def source_packets(self, index: int, chunk: memoryview) -> None:
        self._reader(index).feed(chunk, time.time())

    def source_line(self, index: int, line: str) -> None:
        offset = relay_offset(line)
        if offset is not None and not self._exact:  # (locked: the input's own clock)
            self._reader(index).rebase(offset)

    def _reader(self, index: int) -> SpliceReader:
        if index not in self._readers:
            self._readers[index] = SpliceReader(self, self._exact)
        return self._readers[index]

    def splice(self, splice: LiveSplice) -> None:
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
