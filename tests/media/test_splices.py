"""SCTE-35 found in a program's packets (hlsd.media.splices): sections on the PMT's 0x86
PIDs placed after the first video frame, bad ones counted, and planned as breaks."""

from __future__ import annotations

import base64

from hlsd.media import scte35
from hlsd.media.sections import PACKET, crc32_mpeg2, packetize
from hlsd.media.splices import PlannedBreak, Splice, SpliceScanner, cut_points, plan

VIDEO, CUES, PMT = 0x100, 0x1F0, 0x1000
FIRST = 900_000  # the first video PTS: 10 s on the source's clock
# time_signal, provider placement opportunity start (0x34), 201.467 s (test_scte35.py)
SIGNAL_B64 = "/DA0AAAAAAAAAAAABQb+ADAQ6QAeAhxDVUVJQAAAO3/PAAEUrEoICAAAAAAg+2UBNAAANvrtoQ=="


def section(table: int, body: bytes) -> bytes:
    head = bytes([table, 0xB0 | (len(body) + 9) >> 8, (len(body) + 9) & 0xFF,
                  0, 1, 0xC1, 0, 0])
    return head + body + crc32_mpeg2(head + body).to_bytes(4, "big")


def program() -> list[bytes]:
    """PAT (program 1 → PMT) and a PMT: H.264 video, AAC, SCTE-35."""
    pat = section(0x00, bytes([0, 1, 0xE0 | PMT >> 8, PMT & 0xFF]))
    streams = b"".join(bytes([kind, 0xE0 | pid >> 8, pid & 0xFF, 0xF0, 0])
                       for kind, pid in ((0x1B, VIDEO), (0x0F, 0x101), (0x86, CUES)))
    pmt = section(0x02, bytes([0xE0 | VIDEO >> 8, VIDEO & 0xFF, 0xF0, 0]) + streams)
    return [*packetize(pat, 0), *packetize(pmt, PMT)]


def video(pts: int) -> bytes:
    """A video packet starting a PES with this PTS."""
    stamp = bytes([0x21 | (pts >> 29) & 0x0E, pts >> 22 & 0xFF, (pts >> 14) & 0xFE | 1,
                   pts >> 7 & 0xFF, (pts << 1) & 0xFE | 1])
    pes = b"\x00\x00\x01\xe0\x00\x00\x80\x80\x05" + stamp
    return (bytes([0x47, 0x40 | VIDEO >> 8, VIDEO & 0xFF, 0x10]) + pes).ljust(PACKET, b"\xff")


def scan(packets: list[bytes]) -> SpliceScanner:
    scanner = SpliceScanner()
    for packet in packets:
        scanner.feed(packet)
    scanner.finish()
    return scanner


def test_sections_are_placed_after_the_first_video_frame_and_bad_ones_counted() -> None:
    """1. PAT, PMT, video from 10 s; then on the SCTE-35 PID: a splice_insert at 31 s
       (21 s in, 8 s break), one with a bad CRC, a truncated one, an immediate return,
       one before the first frame
    2. two placed (21.0, and the return at the newest video PTS, 25.0); three counted"""
    out = scte35.splice_insert(7, FIRST + 21 * 90_000, 8 * 90_000)
    bad = bytearray(scte35.splice_insert(8, FIRST, None))
    bad[-1] ^= 1
    packets = [*program(), video(FIRST), *packetize(out, CUES, 0), video(FIRST + 25 * 90_000),
               *packetize(bytes(bad), CUES, 1), *packetize(out[:20], CUES, 2),
               *packetize(scte35.splice_insert(7, None, None, out_of_network=False), CUES, 3),
               *packetize(scte35.splice_insert(9, FIRST - 90_000, None), CUES, 4)]
    scanner = scan(packets)
    assert len(scanner.splices) == 2
    assert (scanner.splices[0].at, scanner.splices[0].info.raw) == (21.0, out)
    assert scanner.splices[1].at == 25.0 and not scanner.splices[1].info.out
    assert scanner.errors == 3


def test_a_stream_without_scte35_or_before_its_pmt_finds_nothing() -> None:
    out = scte35.splice_insert(7, FIRST, None)
    assert scan([video(FIRST), *packetize(out, CUES)]).splices == []  # no PAT/PMT yet
    assert scan([*program(), video(FIRST)]).splices == []


def test_plan_one_break_per_event_returning_at_its_in_section_or_its_duration() -> None:
    out = scte35.parse(scte35.splice_insert(7, 0, 8 * 90_000))
    back = scte35.parse(scte35.splice_insert(7, 0, None, out_of_network=False))
    open_ended = scte35.parse(scte35.splice_insert(9, 0, None))
    signal = scte35.parse(base64.b64decode(SIGNAL_B64))
    cancel = scte35.parse(scte35.splice_insert(11, 0, 90_000))
    cancelled = scte35.SpliceInfo(scte35.SpliceInsert(11, cancel=True), raw=b"x")
    breaks = plan([Splice(21.0, out), Splice(21.0, out), Splice(28.5, back),
                   Splice(40.0, open_ended), Splice(50.0, signal), Splice(60.0, cancel),
                   Splice(59.0, cancelled), Splice(61.0, cancelled)])
    assert breaks == [
        PlannedBreak("splice-7", 21.0, 8.0, out.raw, 28.5, back.raw),
        PlannedBreak("splice-9", 40.0, None, open_ended.raw),
        PlannedBreak("splice-1073741883", 50.0, signal.duration, signal.raw,
                     50.0 + (signal.duration or 0)),
    ]
    assert cut_points(breaks) == (21.0, 28.5, 40.0, 50.0, 251.467)
