"""SCTE-35 (hlsd.media.scte35, hlsd.media.sections): published sections decode to what
their publishers say, the builder's sections parse back, a bad CRC or a truncated or
encrypted section is a Scte35Error, and sections are reassembled from TS packets — split
across packets, several in one — while garbage is skipped and counted, never raised."""

from __future__ import annotations

import base64
import contextlib
import random

import pytest

from hlsd.media import scte35
from hlsd.media.scte35 import (
    OtherDescriptor,
    Scte35Error,
    SegmentationDescriptor,
    SpliceInsert,
    SpliceNull,
    TimeSignal,
)
from hlsd.media.sections import PACKET, SectionAssembler, crc32_mpeg2, packetize

# splice_insert, event 0x4800008F, pts 0x07369C02E, 60.29 s break (auto return), an avail
# descriptor; the sample the SCTE-35 tools (threefive, scte35-js) publish
INSERT_B64 = "/DAvAAAAAAAA///wFAVIAACPf+/+c2nALv4AUsz1AAAAAAAKAAhDVUVJAAABNWLbowo="
# time_signal + segmentation descriptor, decoded at comcast.github.io/scte35-js: pts
# 3150057, event 1073741883, duration 18132042, UPID type 8 (ATSC TI / CAID
# 0x0000000020FB6501), type 0x34 (provider placement opportunity start)
SIGNAL_B64 = "/DA0AAAAAAAAAAAABQb+ADAQ6QAeAhxDVUVJQAAAO3/PAAEUrEoICAAAAAAg+2UBNAAANvrtoQ=="
# AWS Elemental Live's EXT-X-DATERANGE example: splice_insert, event 999, 30 s break
ELEMENTAL_OUT = "FC302500000000000000FFF01405000003E77FEFFE0011FB9EFE002932E00001010100004D192A59"
PID = 0x1F0


def test_crc32_mpeg2_check_value() -> None:
    assert crc32_mpeg2(b"123456789") == 0x0376E6E7  # CRC-32/MPEG-2's catalogued check


@pytest.mark.parametrize("section", [base64.b64decode(INSERT_B64), base64.b64decode(SIGNAL_B64),
                                     bytes.fromhex(ELEMENTAL_OUT)])
def test_published_samples_carry_a_valid_crc(section: bytes) -> None:
    assert crc32_mpeg2(section) == 0


def test_published_splice_insert() -> None:
    info = scte35.parse(base64.b64decode(INSERT_B64))
    assert info.command == SpliceInsert(
        event_id=0x4800008F, out_of_network=True, pts_time=0x07369C02E, auto_return=True,
        break_duration=0x0052CCF5)
    assert info.descriptors == (OtherDescriptor(0x00, b"CUEI", b"\x00\x00\x01\x35"),)
    assert info.out
    assert info.splice_pts == 0x07369C02E
    assert info.duration == pytest.approx(60.2936, abs=1e-4)
    assert info.raw == base64.b64decode(INSERT_B64)


def test_published_time_signal_with_segmentation() -> None:
    info = scte35.parse(base64.b64decode(SIGNAL_B64))
    assert info.command == TimeSignal(3150057)
    assert info.descriptors == (SegmentationDescriptor(
        event_id=1073741883, delivery_not_restricted=False, web_delivery_allowed=False,
        duration=18132042, upid_type=8, upid=bytes.fromhex("0000000020FB6501"),
        type_id=0x34),)
    assert info.out  # a placement opportunity starts
    assert info.splice_pts == 3150057
    assert info.duration == pytest.approx(201.467, abs=1e-3)


def test_elemental_sample() -> None:
    info = scte35.parse(bytes.fromhex(ELEMENTAL_OUT))
    assert isinstance(info.command, SpliceInsert)
    assert info.command.event_id == 999
    assert (info.command.unique_program_id, info.command.avail_num,
            info.command.avails_expected) == (1, 1, 1)
    assert info.duration == 30.0


@pytest.mark.parametrize("pts", [0, 21 * 90_000, (1 << 33) - 1])
@pytest.mark.parametrize("ticks", [None, 8 * 90_000])
def test_builder_round_trip(pts: int, ticks: int | None) -> None:
    section = scte35.splice_insert(7, pts, ticks, unique_program_id=3, avail_num=1,
                                   avails_expected=2)
    info = scte35.parse(section)
    assert crc32_mpeg2(section) == 0
    assert info.command == SpliceInsert(
        event_id=7, out_of_network=True, pts_time=pts, auto_return=ticks is not None,
        break_duration=ticks, unique_program_id=3, avail_num=1, avails_expected=2)
    assert info.out and info.splice_pts == pts
    assert info.duration == (None if ticks is None else 8.0)
    assert info.raw == section


def test_builder_matches_a_published_section_byte_for_byte() -> None:
    """Elemental's section, built: only cw_index differs (it writes 0x00, hlsd 0xFF, both
    meaningless unencrypted); with that set the same, the bytes and CRC are identical."""
    built = bytearray(scte35.splice_insert(999, 0x0011FB9E, 0x002932E0, unique_program_id=1,
                                           avail_num=1, avails_expected=1))
    assert built[9] == 0xFF
    built[9] = 0x00
    built[-4:] = crc32_mpeg2(bytes(built[:-4])).to_bytes(4, "big")
    assert built.hex().upper() == ELEMENTAL_OUT


def test_builder_immediate_and_return() -> None:
    info = scte35.parse(scte35.splice_insert(9, None, None, out_of_network=False))
    assert info.command == SpliceInsert(event_id=9, immediate=True)
    assert not info.out
    assert info.splice_pts is None and info.duration is None


def test_pts_adjustment_applies_mod_2_33() -> None:
    section = bytearray(scte35.splice_insert(1, (1 << 33) - 90_000, None))
    adjustment = 180_000  # 33 bits: the low bit of byte 4 and bytes 5..8
    section[4] |= adjustment >> 32
    section[5:9] = (adjustment & 0xFFFFFFFF).to_bytes(4, "big")
    section[-4:] = crc32_mpeg2(bytes(section[:-4])).to_bytes(4, "big")
    info = scte35.parse(bytes(section))
    assert info.pts_adjustment == adjustment
    assert info.splice_pts == 90_000


def test_splice_null_and_trailing_bytes_ignored() -> None:
    body = bytes([0xFC, 0x30, 0x11, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xF0, 0x00, 0x00, 0, 0])
    section = body + crc32_mpeg2(body).to_bytes(4, "big")
    info = scte35.parse(section + b"\xff\xff")  # stuffing after the section
    assert info.command == SpliceNull()
    assert not info.out and info.splice_pts is None


def test_bad_crc_is_an_error() -> None:
    section = bytearray(scte35.splice_insert(1, 90_000, 90_000))
    section[20] ^= 0x01
    with pytest.raises(Scte35Error, match="CRC_32"):
        scte35.parse(bytes(section))


def test_truncated_and_foreign_sections_are_errors() -> None:
    section = scte35.splice_insert(1, 90_000, 90_000)
    with pytest.raises(Scte35Error, match="truncated"):
        scte35.parse(section[:-5])
    with pytest.raises(Scte35Error, match="0xFC"):
        scte35.parse(b"\x02" + section[1:])
    with pytest.raises(Scte35Error):
        scte35.parse(b"")


def test_encrypted_is_refused() -> None:
    section = bytearray(scte35.splice_insert(1, 90_000, None))
    section[4] |= 0x80
    section[-4:] = crc32_mpeg2(bytes(section[:-4])).to_bytes(4, "big")
    with pytest.raises(Scte35Error, match="encrypted"):
        scte35.parse(bytes(section))


def test_a_command_longer_than_its_section_is_an_error() -> None:
    section = bytearray(scte35.splice_insert(1, 90_000, 90_000))
    section[12] = 0x40  # splice_command_length 64: past the end
    section[-4:] = crc32_mpeg2(bytes(section[:-4])).to_bytes(4, "big")
    with pytest.raises(Scte35Error, match="truncated"):
        scte35.parse(bytes(section))


def test_parse_never_raises_anything_but_scte35error() -> None:
    rng = random.Random(22)
    good = base64.b64decode(SIGNAL_B64)
    for _ in range(3000):
        data = bytearray(good)
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        data = data[:rng.randint(0, len(data))]
        if len(data) > 4:  # a valid CRC, so the parser's length checks get exercised
            data[-4:] = crc32_mpeg2(bytes(data[:-4])).to_bytes(4, "big")
        with contextlib.suppress(Scte35Error):
            scte35.parse(bytes(data))


def feed_all(assembler: SectionAssembler, packets: list[bytes]) -> list[bytes]:
    return [section for packet in packets for section in assembler.feed(packet)]


def test_one_packet_section() -> None:
    section = scte35.splice_insert(5, 90_000, 90_000)
    assembler = SectionAssembler(PID)
    assert feed_all(assembler, packetize(section, PID)) == [section]
    assert assembler.skipped == 0


def with_avails(count: int) -> bytes:
    """A splice_insert section made long by `count` avail descriptors (10 bytes each)."""
    section = bytearray(scte35.splice_insert(5, 90_000, 90_000))
    descriptors = (bytes([0x00, 0x08]) + b"CUEI" + b"\x00\x00\x00\x01") * count
    section = section[:-6] + len(descriptors).to_bytes(2, "big") + descriptors
    length = len(section) + 4 - 3
    section[1:3] = bytes([0x30 | length >> 8, length & 0xFF])
    return bytes(section) + crc32_mpeg2(bytes(section)).to_bytes(4, "big")


def test_section_split_across_packets() -> None:
    section = with_avails(40)
    packets = packetize(section, PID, counter=14)  # the counter wraps 15 → 0
    assert len(packets) == 3
    assembler = SectionAssembler(PID)
    assert feed_all(assembler, packets) == [section]
    assert len(scte35.parse(section).descriptors) == 40
    assert assembler.skipped == 0


def test_two_sections_in_one_packet_and_a_tail_in_the_next() -> None:
    first = scte35.splice_insert(1, 90_000, None)
    second = scte35.splice_insert(2, 180_000, None)
    third = with_avails(15)
    # packet 1: pointer 0, first, second, and the head of third filling it; packet 2:
    # pointer past third's tail, then a fourth section starting right after it
    p1 = b"\x47" + bytes([0x40 | PID >> 8, PID & 0xFF, 0x10]) + b"\x00" + first + second
    head, tail = third[:PACKET - len(p1)], third[PACKET - len(p1):]
    p1 += head
    fourth = scte35.splice_insert(4, 360_000, None)
    p2 = b"\x47" + bytes([0x40 | PID >> 8, PID & 0xFF, 0x11]) + bytes([len(tail)]) + tail \
        + fourth
    p2 += b"\xff" * (PACKET - len(p2))
    assembler = SectionAssembler(PID)
    assert feed_all(assembler, [p1, p2]) == [first, second, third, fourth]
    assert assembler.skipped == 0


def test_adaptation_field_other_pids_and_duplicates() -> None:
    section = scte35.splice_insert(5, 90_000, 90_000)
    packet = packetize(section, PID)[0]
    # same payload behind an adaptation field of 10 bytes (payload shortened to fit)
    adapted = packet[:3] + bytes([0x30]) + bytes([9]) + b"\x00" + b"\xff" * 8 \
        + packet[4:4 + PACKET - 14]
    assembler = SectionAssembler(PID)
    assert feed_all(assembler, [adapted]) == [section]
    assert feed_all(assembler, [adapted]) == []  # a duplicate (same counter)
    other = packetize(section, PID + 1, counter=1)
    assert feed_all(assembler, other) == []
    assert assembler.skipped == 0


def test_a_lost_packet_drops_the_section_and_the_next_one_comes_through() -> None:
    packets = packetize(with_avails(30), PID)
    assert len(packets) == 2
    after = scte35.splice_insert(6, 90_000, None)
    assembler = SectionAssembler(PID)
    # packet 1 is lost: the counter jumps from 0 to 3 on the next section's packet
    assert feed_all(assembler, [packets[0], *packetize(after, PID, counter=3)]) == [after]
    assert assembler.skipped == 1


def test_garbage_never_raises() -> None:
    rng = random.Random(35)
    good = [p for n in range(20)
            for p in packetize(scte35.splice_insert(n, n * 90_000, 90_000), PID, n)]
    assembler = SectionAssembler(PID)
    found = 0
    for _ in range(5000):
        choice = rng.random()
        if choice < 0.3:
            packet = bytes(rng.randrange(256) for _ in range(rng.choice([0, 5, 187, 188, 189])))
        elif choice < 0.6:
            damaged = bytearray(rng.choice(good))
            for _ in range(rng.randint(1, 6)):
                damaged[rng.randrange(PACKET)] = rng.randrange(256)
            packet = bytes(damaged)
        else:
            packet = rng.choice(good)
        for section in assembler.feed(packet):
            found += 1
            with contextlib.suppress(Scte35Error):
                scte35.parse(section)
    assert found > 0
    assert assembler.skipped > 0
