"""SCTE-35 in a live input's packets as its relay delivers them (the ingest stage hands
them over): the splice_info_sections, each with the input's clock at its arrival (the
newest video PTS), handed to a SpliceSink as hlsd.media.splices.LiveSplice. Pure: packets,
the time of their arrival and the relay's lines in.

The input's clock: with timeline: locked the relay keeps the input's timestamps. Else
ffmpeg's relay starts them at its input's start time plus its muxer's delay (1.4 s): the
"Duration: …, start: S" line it prints gives the offset back, to within ffmpeg's shift
of a first negative DTS (B-frames: a frame or two). A source that starts again within
one relay run (its timestamps going back) is re-based by ffmpeg unseen: a pre-roll then
out of bounds is not believed, and the splice is taken as immediate (`LiveSplice.placed`).

ffmpeg 5.1's relay turns a SCTE-35 PID into private-data PES (stream_type 0x06, stream_id
0xFC), one whole section each; a relay of the operator's own may pass the PID on as
sections (stream_type 0x86). Both are read. A section that fails its CRC, is truncated or
encrypted, and whatever could not be put together, is counted (`errors`), never raised.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Protocol

from hlsd.config.commands import start_ticks
from hlsd.media import scte35
from hlsd.media.ptsmark import PtsMarker
from hlsd.media.sections import PACKET, SectionAssembler
from hlsd.media.splices import (
    SCTE35_STREAM,
    LiveSplice,
    ProgramTables,
    event_of,
    live_splice,
    pes_pts,
    returns,
)

MUX_DELAY = 126_000  # 2 x ffmpeg's default -muxdelay 0.7 s, in 90 kHz ticks
# Pre-rolls beyond these are no SCTE-35 cue's (SCTE 35 asks for 4 s or more, broadcasters
# send 4 to 60 s): the clock estimate is wrong (a source that started again).
EARLIEST, LATEST = -10.0, 300.0
PRIVATE_PES = 0x06  # stream_type of ffmpeg's relayed SCTE-35 (and of other private data)
EVENTS_KEPT = 32  # splice events whose marks a cancel may still take back
PES_START = b"\0\0\1\xfc"  # start code and the stream_id ffmpeg gives it


class SpliceSink(Protocol):
    def splice(self, splice: LiveSplice) -> None:
        """A section of the input on air (repeats included: the receiver merges them)."""

    def splice_errors(self, count: int) -> None:
        """`count` more sections of the input could not be used."""


class _PesSections:
    """The sections carried one per PES on a private-data PID (PES_packet_length says
    where each ends)."""

    def __init__(self) -> None:
        self.skipped = 0
        self._buffer = bytearray()
        self._length = 0

    def feed(self, packet: memoryview) -> bytes | None:
        control = packet[3] >> 4 & 3
        start = 4 + (1 + packet[4] if control & 2 else 0)
        if not control & 1 or start >= PACKET:
            return None
        payload = packet[start:]
        if packet[1] & 0x40:
            if self._buffer:  # the last one never finished
                self.skipped += 1
            self._buffer = bytearray()
            if len(payload) < 9 or bytes(payload[:4]) != PES_START:
                self._length = 0
                return None
            self._length = 6 + (payload[4] << 8 | payload[5])
        elif not self._length:
            return None
        self._buffer += payload
        if len(self._buffer) < self._length:
            return None
        pes, self._buffer, self._length = bytes(self._buffer[:self._length]), bytearray(), 0
        body = pes[9 + pes[8]:]
        return body if body[:1] == bytes([scte35.TABLE_ID]) else None


def relay_offset(line: str) -> int | None:
    """Ticks from a relay's clock back to its input's, from the relay's "start:" line
    (a relay without -copyts); None for any other line."""
    start = start_ticks(line)
    return None if start is None else start - MUX_DELAY


class SpliceReader:
    """Fed one input's relayed packets in order (whole 188-byte packets). `exact`: the
    relay keeps the input's timestamps; else `rebase` says the offset. `marker`: where
    each splice point (and return) is marked, on the relay's clock (hlsd.media.ptsmark);
    `late` counts the points whose frame had passed when their section came."""

    def __init__(self, sink: SpliceSink, exact: bool = True,
                 marker: PtsMarker | None = None) -> None:
        self._sink = sink
        self._exact = exact
        self._marker = marker
        self._event_points: dict[int, list[int]] = {}  # marked per event (a cancel unmarks)
        self.late = 0
        self._offset = 0  # relayed timestamp + this = the input's
        self._arrived = 0.0
        self._tables = ProgramTables()
        self._sections: dict[int, SectionAssembler] = {}
        self._pes: dict[int, _PesSections] = {}
        self._now: int | None = None  # the newest video PTS: the input's clock
        self._skipped = 0  # what the assemblers had dropped, as last reported

    def rebase(self, offset: int) -> None:
        """The relay started again, its clock `offset` ticks behind the input's."""
        self._offset = offset
        self._now = None

    def feed(self, chunk: memoryview, arrived: float) -> None:
        """`arrived`: when the chunk came (time.time())."""
        self._arrived = arrived
        for at in range(0, len(chunk) - PACKET + 1, PACKET):
            packet = chunk[at:at + PACKET]
            pid = (packet[1] & 0x1F) << 8 | packet[2]
            if pid == self._tables.video:
                pts = pes_pts(packet)
                if pts is not None:
                    self._now = (pts + self._offset) % scte35.PTS_WRAP
            elif pid in self._pes:
                section = self._pes[pid].feed(packet)
                if section is not None:
                    self._section(section)
            elif pid in self._sections:
                for section in self._sections[pid].feed(bytes(packet)):
                    self._section(section)
            else:
                self._streams(self._tables.feed(pid, packet) or ())
        skipped = sum(a.skipped for a in self._sections.values()) + sum(
            p.skipped for p in self._pes.values())
        if skipped > self._skipped:
            self._sink.splice_errors(skipped - self._skipped)
        self._skipped = skipped

    def _streams(self, streams: Iterable[tuple[int, int]]) -> None:
        for kind, pid in streams:
            if kind == SCTE35_STREAM and pid not in self._sections:
                self._sections[pid] = SectionAssembler(pid)
            elif kind == PRIVATE_PES and pid not in self._pes:
                self._pes[pid] = _PesSections()

    def _section(self, section: bytes) -> None:
        try:
            info = scte35.parse(section)
        except scte35.Scte35Error:
            self._sink.splice_errors(1)
            return
        if isinstance(info.command, scte35.SpliceNull):  # a heartbeat
            return
        splice = live_splice(info, self._arrived, self._now)
        if not self._exact and not EARLIEST <= splice.pre_roll <= LATEST:
            splice = replace(splice, pre_roll=0.0, pts=None, placed=False)
        if not self._exact and splice.pts is not None and info.splice_pts is not None:
            splice = replace(splice, relay_pts=(splice.pts - self._offset) % scte35.PTS_WRAP)
        self._mark(info, splice)
        self._sink.splice(splice)

    def _mark(self, info: scte35.SpliceInfo, splice: LiveSplice) -> None:
        """The frames at the splice point and at the return (when its time is known)."""
        event = event_of(info)
        if self._marker is None or event is None:
            return
        command = info.command
        if isinstance(command, scte35.SpliceInsert) and command.cancel:
            for marked in self._event_points.pop(event, []):
                self._marker.unmark(marked)
            return
        point = splice.relay_pts
        if point is None:
            return  # immediate, or not believed: no time to arrange a cut
        points = [point] if info.out or returns(info) else []
        if info.out and info.duration is not None:
            points.append((point + round(info.duration * scte35.TICKS)) % scte35.PTS_WRAP)
        now = None if self._now is None else (self._now - self._offset) % scte35.PTS_WRAP
        for at in points:
            if self._marker.mark(at, now):
                self._event_points.setdefault(event, []).append(at)
                while len(self._event_points) > EVENTS_KEPT:
                    del self._event_points[next(iter(self._event_points))]
            elif now is not None and at not in self._event_points.get(event, []):
                self.late += 1
