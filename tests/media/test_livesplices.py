"""The live input's SCTE-35 as its relay delivers it (hlsd.media.livesplices): sections from
ffmpeg's private-data PES or from a 0x86 PID, each with its pre-roll on the input's clock;
unusable ones counted."""

from __future__ import annotations

import random

import pytest

from hlsd.media import scte35
from hlsd.media.livesplices import SpliceReader, relay_offset
from hlsd.media.sections import crc32_mpeg2, packetize
from hlsd.media.splices import LiveSplice

PMT, VIDEO, CUES = 0x1000, 0x100, 0x102
NOW = 1_000_000  # the input's clock (90 kHz) when the section comes


class Sink:
    def __init__(self) -> None:
        self.splices: list[LiveSplice] = []
        self.errors = 0

    def splice(self, splice: LiveSplice) -> None:
        self.splices.append(splice)

    def splice_errors(self, count: int) -> None:
        self.errors += count


def psi(pid: int, table: int, body: bytes) -> bytes:
    """One PSI section (long form) in one packet."""
    length = 5 + len(body) + 4
    section = bytes([table, 0xB0 | length >> 8, length & 0xFF, 0, 1, 0xC1, 0, 0]) + body
    section += crc32_mpeg2(section).to_bytes(4, "big")
    return packetize(section, pid)[0]


def program(cue_type: int) -> list[bytes]:
    pat = psi(0, 0x00, bytes([0, 1, 0xE0 | PMT >> 8, PMT & 0xFF]))
    streams = bytes([0x1B, 0xE0 | VIDEO >> 8, VIDEO & 0xFF, 0xF0, 0,
                     cue_type, 0xE0 | CUES >> 8, CUES & 0xFF, 0xF0, 0])
    pmt = psi(PMT, 0x02, bytes([0xE1, 0x00, 0xF0, 0]) + streams)
    return [pat, pmt]


def pes(pid: int, stream_id: int, pts: int, payload: bytes, counter: int = 0) -> list[bytes]:
    """A PES with a PTS, cut into packets as a muxer does (the last one padded by an
    adaptation field)."""
    stamp = bytes([0x21 | (pts >> 29 & 0x0E), pts >> 22 & 0xFF, 0x01 | (pts >> 14 & 0xFE),
                   pts >> 7 & 0xFF, 0x01 | (pts << 1 & 0xFE)])
    data = b"\0\0\1" + bytes([stream_id]) + (8 + len(payload)).to_bytes(2, "big") \
        + bytes([0x84, 0x80, 5]) + stamp + payload
    packets = []
    while data:
        room = 184
        chunk, data = data[:room], data[room:]
        start = 0x40 if not packets else 0
        header = bytes([0x47, start | pid >> 8, pid & 0xFF])
        if len(chunk) < room:  # adaptation field stuffing
            stuffing = room - len(chunk) - 1
            field = bytes([stuffing]) + (bytes([0]) + b"\xff" * (stuffing - 1)
                                         if stuffing else b"")
            packets.append(header + bytes([0x30 | counter & 0xF]) + field + chunk)
        else:
            packets.append(header + bytes([0x10 | counter & 0xF]) + chunk)
        counter += 1
    return packets


def feed(reader: SpliceReader, packets: list[bytes], arrived: float = 1000.0) -> None:
    reader.feed(memoryview(b"".join(packets)), arrived)


def test_a_relayed_section_comes_with_its_pre_roll() -> None:
    """ffmpeg's relay: stream_type 0x06, stream_id 0xFC, the section unchanged."""
    sink = Sink()
    reader = SpliceReader(sink)
    section = scte35.splice_insert(7, NOW + 6 * 90_000, 8 * 90_000)
    feed(reader, [*program(0x06), *pes(VIDEO, 0xE0, NOW, b"\0" * 300),
                  *pes(CUES, 0xFC, NOW - 60_000, section)])
    (splice,) = sink.splices
    assert splice.info.raw == section and splice.arrived == 1000.0
    assert splice.pre_roll == pytest.approx(6.0) and splice.pts == NOW + 6 * 90_000
    assert sink.errors == 0


def test_sections_on_a_scte35_pid_across_the_wrap_and_immediate() -> None:
    sink = Sink()
    reader = SpliceReader(sink)
    late = scte35.PTS_WRAP - 90_000  # one second before the wrap
    feed(reader, [*program(0x86), *pes(VIDEO, 0xE0, late, b"\0" * 10),
                  *packetize(scte35.splice_insert(1, 3 * 90_000, None), CUES, 0),
                  *packetize(scte35.splice_insert(2, late - 90_000, None), CUES, 1),
                  *packetize(scte35.splice_insert(3, None, None), CUES, 2)])
    assert [round(s.pre_roll, 3) for s in sink.splices] == [4.0, -1.0, 0.0]
    assert sink.splices[2].pts == late  # immediate: now


def test_unusable_sections_are_counted_not_raised() -> None:
    """A bad CRC, a truncated section, a PES cut short by the next one; splice_null (a
    heartbeat) is neither a splice nor an error."""
    sink = Sink()
    reader = SpliceReader(sink)
    bad = bytearray(scte35.splice_insert(9, NOW, None))
    bad[-1] ^= 1
    cut = pes(CUES, 0xFC, NOW, scte35.splice_insert(10, NOW, None) + bytes(400))[:1]
    null = bytes([0xFC, 0x30, 0x11]) + bytes(6) + b"\xff" + bytes([0xFF, 0xF0, 0x00, 0x00,
                                                                   0x00, 0x00])
    null += crc32_mpeg2(null).to_bytes(4, "big")
    feed(reader, [*program(0x06), *pes(CUES, 0xFC, NOW, bytes(bad)),
                  *pes(CUES, 0xFC, NOW, bytes(bad[:20])), *cut,
                  *pes(CUES, 0xFC, NOW, null)])
    assert sink.splices == [] and sink.errors == 3


def test_other_private_data_is_left_alone() -> None:
    """Another private stream (not stream_id 0xFC, or no SCTE-35 table) is no error."""
    sink = Sink()
    reader = SpliceReader(sink)
    feed(reader, [*program(0x06), *pes(CUES, 0xBD, NOW, b"\xfc" + bytes(30)),
                  *pes(CUES, 0xFC, NOW, b"\x15" + bytes(30))])
    assert sink.splices == [] and sink.errors == 0


def test_a_relay_without_copyts_is_rebased_from_its_start_line() -> None:
    """ffmpeg's relay starts its clock at its input's start + 1.4 s: the "start:" line
    gives the input's clock back; a pre-roll out of bounds then (the source started
    again unseen) is not believed: taken as immediate."""
    assert relay_offset("  Duration: N/A, start: 3001.378667, bitrate: N/A") == \
        round(3001.378667 * 90_000) - 126_000
    assert relay_offset("Stream #0:0[0x100]: Video: h264") is None
    sink = Sink()
    reader = SpliceReader(sink, exact=False)
    reader.rebase(NOW - 126_000)  # the relay's 1.4 s is the input's NOW
    feed(reader, [*program(0x06), *pes(VIDEO, 0xE0, 126_000, b"\0" * 10),
                  *pes(CUES, 0xFC, 126_000, scte35.splice_insert(1, NOW + 450_000, None)),
                  *pes(CUES, 0xFC, 126_000, scte35.splice_insert(2, NOW + 900 * 90_000,
                                                                 None))])
    first, second = sink.splices
    assert first.pre_roll == pytest.approx(5.0) and first.placed
    assert second.pre_roll == 0.0 and second.pts is None and not second.placed


def test_mangled_tables_and_sections_never_raise() -> None:
    """A live source's bytes are anyone's: PAT, PMT and SCTE-35 packets with random bytes
    changed (a fixed seed, 2000 variants), in both forms, are read without an exception."""
    rng = random.Random(22)
    for kind, cue in ((0x06, pes(CUES, 0xFC, NOW, scte35.splice_insert(4, NOW, 90_000))),
                      (0x86, packetize(scte35.splice_insert(4, NOW, 90_000), CUES))):
        clean = [*program(kind), *pes(VIDEO, 0xE0, NOW, b"\0" * 10), *cue, *cue]
        for _ in range(1000):
            packets = [bytearray(p) for p in clean]
            for _ in range(rng.randint(1, 6)):
                packet = rng.choice([p for p in packets if (p[1] & 0x1F) << 8 | p[2] != VIDEO])
                packet[rng.randrange(1, 188)] = rng.randrange(256)
            SpliceReader(Sink(), exact=False).feed(
                memoryview(b"".join(bytes(p) for p in packets)), 0.0)


def test_splice_points_and_returns_are_marked_on_the_relays_clock() -> None:
    """With a marker (timeline: local): an OUT splice_insert marks its point and its
    return (break_duration later) on the relay's clock; a repeat adds nothing; a cancel
    takes its event's marks back; a point whose frame has passed is counted late."""
    from hlsd.media.ptsmark import PtsMarker

    marker = PtsMarker()
    reader = SpliceReader(Sink(), exact=False, marker=marker)
    offset = NOW - 126_000
    reader.rebase(offset)
    out = scte35.splice_insert(7, NOW + 6 * 90_000, 8 * 90_000)
    other = scte35.splice_insert(8, NOW + 20 * 90_000, 90_000)
    cancel = bytearray(scte35.splice_insert(8, None, None))
    cancel[18] |= 0x80  # splice_event_cancel_indicator
    cancel[-4:] = crc32_mpeg2(bytes(cancel[:-4])).to_bytes(4, "big")
    feed(reader, [*program(0x06), *pes(VIDEO, 0xE0, 126_000, b"\0" * 10),
                  *pes(CUES, 0xFC, 126_000, out), *pes(CUES, 0xFC, 126_000, out),
                  *pes(CUES, 0xFC, 126_000, other), *pes(CUES, 0xFC, 126_000, bytes(cancel))])
    assert marker.pending() == [126_000 + 6 * 90_000, 126_000 + 14 * 90_000]
    assert reader.late == 0
    late = scte35.splice_insert(9, NOW - 90_000, None)  # its frame went by a second ago
    feed(reader, [*pes(CUES, 0xFC, 126_000, late)])
    assert reader.late == 1 and len(marker.pending()) == 2
