"""SCTE-35 in an MPEG-TS input, found before encoding: the splice_info_sections on the
PIDs the PMT lists with stream_type 0x86, each placed on the program's timeline (seconds
after its first video frame), then planned as breaks with their cut points. Pure: fed
188-byte packets, gives breaks.

- A section that fails its CRC, is truncated or encrypted is skipped and counted
  (`errors`), as is whatever the section assembler had to drop; never raised.
- Broadcasters repeat a cue until its splice time: one break per splice event.
- A splice time before the first video frame, or a time-less (immediate) splice before
  any video, cannot be placed: skipped and counted too.
"""

from __future__ import annotations

from dataclasses import dataclass

from hlsd.media import scte35
from hlsd.media.sections import PACKET, SYNC, SectionAssembler

SCTE35_STREAM = 0x86
VIDEO_STREAMS = frozenset({0x01, 0x02, 0x10, 0x1B, 0x24, 0x42, 0xEA})
PAT_PID = 0x0000
HALF_WRAP = 1 << 32  # 90 kHz ticks: a difference beyond this is a time before, not after


@dataclass(frozen=True)
class Splice:
    """One section, where it applies: `at` seconds after the first video frame."""

    at: float
    info: scte35.SpliceInfo


@dataclass(frozen=True)
class PlannedBreak:
    """A break of the source: opens at `at`, returns at `back_at` (None: not said)."""

    id: str
    at: float
    duration: float | None
    out: bytes  # the source's section (SCTE35-OUT)
    back_at: float | None = None
    back: bytes | None = None  # the return's own section (SCTE35-IN), if the source sent one


@dataclass(frozen=True)
class LiveSplice:
    """A section of a live input, as it arrived (time.time() `arrived`): its splice point
    is `pre_roll` seconds later (0: immediate; < 0: passed already), at `pts` on the
    input's clock (None: immediate, before any video)."""

    info: scte35.SpliceInfo
    arrived: float
    pre_roll: float
    pts: int | None
    placed: bool = True  # False: its time could not be believed, taken as immediate
    relay_pts: int | None = None  # `pts` on the relay's clock (timeline: local)


def live_splice(info: scte35.SpliceInfo, arrived: float, now_pts: int | None) -> LiveSplice:
    """Where a live section's splice point is: its splice time against the input's clock
    now (the newest video PTS), or now for an immediate one."""
    pts = info.splice_pts
    if pts is None or now_pts is None:
        return LiveSplice(info, arrived, 0.0, now_pts if pts is None else pts)
    ticks = (pts - now_pts) % scte35.PTS_WRAP
    if ticks >= HALF_WRAP:  # before now
        ticks -= scte35.PTS_WRAP
    return LiveSplice(info, arrived, ticks / scte35.TICKS, pts)


class ProgramTables:
    """A program's PAT and PMT as their packets come: its video PID, and the streams each
    PMT section lists, for the reader to pick the PIDs it wants."""

    def __init__(self) -> None:
        self._pat = SectionAssembler(PAT_PID)
        self._pmt: SectionAssembler | None = None
        self.video: int | None = None

    def feed(self, pid: int, packet: bytes | memoryview) -> list[tuple[int, int]] | None:
        """None when `pid` carries neither table; else (stream_type, PID) of the streams
        the PMT sections completed by `packet` list (often none)."""
        if pid == PAT_PID:
            for section in self._pat.feed(bytes(packet)):
                found = pmt_pid(section)
                if found is not None and (self._pmt is None or self._pmt.pid != found):
                    self._pmt = SectionAssembler(found)
            return []
        if self._pmt is None or pid != self._pmt.pid:
            return None
        streams = [s for section in self._pmt.feed(bytes(packet))
                   for s in pmt_streams(section)]
        for kind, stream in streams:
            if kind in VIDEO_STREAMS and self.video is None:
                self.video = stream
        return streams


class SpliceScanner:
    """Fed a program's packets in order; `splices` and `errors` once the input is done."""

    def __init__(self) -> None:
        self.splices: list[Splice] = []
        self.errors = 0
        self._tables = ProgramTables()
        self._cues: dict[int, SectionAssembler] = {}
        self._first: int | None = None  # the first video PTS
        self._last: int | None = None  # the newest video PTS

    def feed(self, packet: bytes) -> None:
        if len(packet) != PACKET or packet[0] != SYNC:
            return
        pid = (packet[1] & 0x1F) << 8 | packet[2]
        streams = self._tables.feed(pid, packet)
        if streams is not None:
            for kind, stream in streams:
                if kind == SCTE35_STREAM and stream not in self._cues:
                    self._cues[stream] = SectionAssembler(stream)
        elif pid == self._tables.video and packet[1] & 0x40:
            self._pes(packet)
        elif pid in self._cues:
            for section in self._cues[pid].feed(packet):
                self._section(section)

    def finish(self) -> None:
        """End of input: what the assemblers dropped is counted."""
        self.errors += sum(a.skipped for a in self._cues.values())

    def _pes(self, packet: bytes) -> None:
        pts = pes_pts(packet)
        if pts is None:
            return
        if self._first is None:
            self._first = pts
        self._last = pts

    def _section(self, section: bytes) -> None:
        try:
            info = scte35.parse(section)
        except scte35.Scte35Error:
            self.errors += 1
            return
        pts = info.splice_pts if info.splice_pts is not None else self._last
        if pts is None or self._first is None or isinstance(info.command, scte35.SpliceNull):
            self.errors += not isinstance(info.command, scte35.SpliceNull)
            return
        ticks = (pts - self._first) % scte35.PTS_WRAP
        if ticks >= HALF_WRAP:  # before the first frame
            self.errors += 1
            return
        self.splices.append(Splice(ticks / scte35.TICKS, info))


def pmt_pid(section: bytes) -> int | None:
    """The PMT PID of a PAT section's first program (not the network PID)."""
    body = section[8:-4]
    for i in range(0, len(body) - 3, 4):
        number, pid = body[i] << 8 | body[i + 1], (body[i + 2] & 0x1F) << 8 | body[i + 3]
        if number != 0:
            return pid
    return None


def pmt_streams(section: bytes) -> list[tuple[int, int]]:
    """(stream_type, elementary PID) of each stream a PMT section lists."""
    streams: list[tuple[int, int]] = []
    if len(section) < 16:
        return streams
    pos = 12 + ((section[10] & 0x0F) << 8 | section[11])
    end = len(section) - 4
    while pos + 5 <= end:
        streams.append((section[pos], (section[pos + 1] & 0x1F) << 8 | section[pos + 2]))
        pos += 5 + ((section[pos + 3] & 0x0F) << 8 | section[pos + 4])
    return streams


def pes_pts(packet: bytes | memoryview) -> int | None:
    """The PTS of a PES that starts in this packet (payload_unit_start), if it has one."""
    if not packet[1] & 0x40 or not packet[3] & 0x10:
        return None
    start = 4 + (1 + packet[4] if packet[3] & 0x20 else 0)
    pes = packet[start:start + 14]
    if len(pes) < 14 or pes[:3] != b"\x00\x00\x01" or not pes[7] & 0x80:
        return None
    return ((pes[9] >> 1 & 0x07) << 30 | pes[10] << 22 | (pes[11] >> 1) << 15
            | pes[12] << 7 | pes[13] >> 1)


def event_of(info: scte35.SpliceInfo) -> int | None:
    if isinstance(info.command, scte35.SpliceInsert):
        return info.command.event_id
    segmentation = info.segmentation
    return segmentation[0].event_id if segmentation else None


def returns(info: scte35.SpliceInfo) -> bool:
    """A splice back into the network: splice_insert in, or a segmentation end."""
    cmd = info.command
    if isinstance(cmd, scte35.SpliceInsert):
        return not cmd.out_of_network and not cmd.cancel
    return any(d.type_id - 1 in scte35.OUT_TYPES and not d.cancel for d in info.segmentation)


def plan(splices: list[Splice]) -> list[PlannedBreak]:
    """One break per splice event, in time order: its first OUT section, and its return:
    the event's IN section if one came, else the OUT's break duration."""
    breaks: dict[int, PlannedBreak] = {}
    for splice in sorted(splices, key=lambda s: s.at):
        event, info = event_of(splice.info), splice.info
        if event is None:
            continue
        if isinstance(info.command, scte35.SpliceInsert) and info.command.cancel:
            breaks.pop(event, None)
        elif info.out and event not in breaks:
            duration = info.duration
            breaks[event] = PlannedBreak(
                f"splice-{event}", splice.at, duration, info.raw,
                None if duration is None else splice.at + duration)
        elif returns(info) and event in breaks and breaks[event].back is None \
                and splice.at > breaks[event].at:
            old = breaks[event]
            breaks[event] = PlannedBreak(old.id, old.at, old.duration, old.out, splice.at,
                                         info.raw)
    return sorted(breaks.values(), key=lambda b: b.at)


def cut_points(breaks: list[PlannedBreak]) -> tuple[float, ...]:
    """Where every rung must start a segment: each break's start and return, after 0."""
    times = {round(t, 3) for b in breaks for t in (b.at, b.back_at) if t is not None}
    return tuple(sorted(t for t in times if t > 0))
