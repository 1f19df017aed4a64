"""SCTE-35 splice_info_section (ANSI/SCTE 35): parsed into small frozen dataclasses, and
built for an operator's cue. Pure: bytes in, bytes out.

- Only what an ad break needs is modelled: splice_null, splice_insert, time_signal, and
  segmentation descriptors. Other commands and descriptors are kept as raw bytes, so a
  section still parses (its bytes go to the playlist as they came).
- The CRC_32 is checked first: a section that fails it is a `Scte35Error`, never a cue.
- Encrypted sections are refused: hlsd holds no control words.
- Times are 90 kHz ticks; `splice_pts` has pts_adjustment applied (mod 2^33), as the
  splice point on the source's clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hlsd.media.sections import crc32_mpeg2

TABLE_ID = 0xFC
TICKS = 90_000  # a 90 kHz clock
PTS_WRAP = 1 << 33
SPLICE_NULL, SPLICE_INSERT, TIME_SIGNAL = 0x00, 0x05, 0x06
SEGMENTATION_TAG = 0x02
CUEI = b"CUEI"
# segmentation_type_id values that open a break or placement opportunity (SCTE 35
# table 22: break, provider/distributor ad, placement opportunity, overlay, promo, block)
OUT_TYPES = frozenset({0x22, 0x30, 0x32, 0x34, 0x36, 0x38, 0x3A, 0x3C, 0x3E, 0x44, 0x46})


class Scte35Error(ValueError):
    """A section hlsd cannot use: truncated, bad CRC, encrypted, lengths that disagree."""


class _Bits:
    """Big-endian bit reader over one bounded span; running off its end is a Scte35Error."""

    def __init__(self, data: bytes, what: str) -> None:
        self._data, self._pos, self._what = data, 0, what

    def take(self, n: int) -> int:
        end = self._pos + n
        if end > len(self._data) * 8:
            raise Scte35Error(f"SCTE-35 {self._what} is truncated")
        value = int.from_bytes(self._data, "big") >> (len(self._data) * 8 - end)
        self._pos = end
        return value & ((1 << n) - 1)

    def flag(self) -> bool:
        return bool(self.take(1))

    def raw(self, n: int) -> bytes:
        return bytes(self.take(8) for _ in range(n))

    @property
    def used(self) -> int:
        return (self._pos + 7) // 8


@dataclass(frozen=True)
class SpliceNull:  # splice_null (0x00)
    pass


@dataclass(frozen=True)
class SpliceInsert:  # splice_insert (0x05); pts_time None: immediate, or no time given
    event_id: int
    cancel: bool = False
    out_of_network: bool = False
    program_splice: bool = True
    immediate: bool = False
    pts_time: int | None = None
    auto_return: bool = False
    break_duration: int | None = None  # ticks
    unique_program_id: int = 0
    avail_num: int = 0
    avails_expected: int = 0


@dataclass(frozen=True)
class TimeSignal:  # time_signal (0x06)
    pts_time: int | None


@dataclass(frozen=True)
class OtherCommand:  # any other splice command, kept as it came
    type: int
    payload: bytes


@dataclass(frozen=True)
class SegmentationDescriptor:  # segmentation_descriptor (tag 0x02, identifier CUEI)
    event_id: int
    cancel: bool = False
    program_segmentation: bool = True
    delivery_not_restricted: bool = True
    web_delivery_allowed: bool = True
    no_regional_blackout: bool = True
    archive_allowed: bool = True
    device_restrictions: int = 3
    duration: int | None = None  # ticks (segmentation_duration, 40 bits)
    upid_type: int = 0
    upid: bytes = b""
    type_id: int = 0
    segment_num: int = 0
    segments_expected: int = 0


@dataclass(frozen=True)
class OtherDescriptor:  # any other splice descriptor, kept as it came
    tag: int
    identifier: bytes
    payload: bytes


Command = SpliceNull | SpliceInsert | TimeSignal | OtherCommand
Descriptor = SegmentationDescriptor | OtherDescriptor


@dataclass(frozen=True)
class SpliceInfo:  # splice_info_section (table_id 0xFC)
    command: Command
    descriptors: tuple[Descriptor, ...] = ()
    pts_adjustment: int = 0
    raw: bytes = field(default=b"", repr=False)

    @property
    def segmentation(self) -> tuple[SegmentationDescriptor, ...]:
        return tuple(d for d in self.descriptors if isinstance(d, SegmentationDescriptor))

    @property
    def out(self) -> bool:
        """Whether this opens a break: splice_insert out of network, or a time_signal
        whose segmentation descriptor starts a break, ad or placement opportunity."""
        cmd = self.command
        if isinstance(cmd, SpliceInsert):
            return cmd.out_of_network and not cmd.cancel
        if isinstance(cmd, TimeSignal):
            return any(d.type_id in OUT_TYPES and not d.cancel for d in self.segmentation)
        return False

    @property
    def splice_pts(self) -> int | None:
        """The splice point on the source's clock (pts_adjustment applied, mod 2^33);
        None for an immediate splice or a command without a time."""
        pts = getattr(self.command, "pts_time", None)
        return None if pts is None else (pts + self.pts_adjustment) % PTS_WRAP

    @property
    def duration(self) -> float | None:
        """Seconds: the break_duration, else the first segmentation_duration."""
        cmd = self.command
        if isinstance(cmd, SpliceInsert) and cmd.break_duration is not None:
            return cmd.break_duration / TICKS
        ticks = next((d.duration for d in self.segmentation if d.duration is not None), None)
        return None if ticks is None else ticks / TICKS


def _splice_time(bits: _Bits) -> int | None:
    if bits.flag():
        bits.take(6)
        return bits.take(33)
    bits.take(7)
    return None


def _splice_insert(bits: _Bits) -> SpliceInsert:
    event_id, cancel = bits.take(32), bits.flag()
    bits.take(7)
    if cancel:
        return SpliceInsert(event_id, cancel=True)
    out, program, has_duration, immediate = (bits.flag() for _ in range(4))
    bits.take(4)
    pts = None
    if program and not immediate:
        pts = _splice_time(bits)
    if not program:  # component splice: times per component; the first one stands
        for _ in range(bits.take(8)):
            bits.take(8)
            if not immediate:
                component = _splice_time(bits)
                pts = component if pts is None else pts
    auto_return, duration = False, None
    if has_duration:
        auto_return = bits.flag()
        bits.take(6)
        duration = bits.take(33)
    return SpliceInsert(event_id, False, out, program, immediate, pts, auto_return, duration,
                        bits.take(16), bits.take(8), bits.take(8))


def _segmentation(body: bytes) -> SegmentationDescriptor:
    bits = _Bits(body, "segmentation_descriptor")
    event_id, cancel = bits.take(32), bits.flag()
    bits.take(7)
    if cancel:
        return SegmentationDescriptor(event_id, cancel=True)
    program, has_duration, not_restricted = bits.flag(), bits.flag(), bits.flag()
    web = blackout = archive = True
    devices = 3
    if not_restricted:
        bits.take(5)
    else:
        web, blackout, archive, devices = bits.flag(), bits.flag(), bits.flag(), bits.take(2)
    if not program:
        for _ in range(bits.take(8)):
            bits.take(48)  # component_tag, reserved, pts_offset
    duration = bits.take(40) if has_duration else None
    upid_type, upid_length = bits.take(8), bits.take(8)
    upid = bits.raw(upid_length)
    return SegmentationDescriptor(event_id, False, program, not_restricted, web, blackout,
                                  archive, devices, duration, upid_type, upid, bits.take(8),
                                  bits.take(8), bits.take(8))


def _descriptors(loop: bytes) -> tuple[Descriptor, ...]:
    found: list[Descriptor] = []
    pos = 0
    while pos < len(loop):
        if pos + 6 > len(loop):
            raise Scte35Error("SCTE-35 descriptor loop is truncated")
        tag, length = loop[pos], loop[pos + 1]
        body = loop[pos + 2:pos + 2 + length]
        if len(body) != length or length < 4:
            raise Scte35Error(f"SCTE-35 descriptor 0x{tag:02X} has a bad length")
        if tag == SEGMENTATION_TAG and body[:4] == CUEI:
            found.append(_segmentation(body[4:]))
        else:
            found.append(OtherDescriptor(tag, body[:4], body[4:]))
        pos += 2 + length
    return tuple(found)


def _command(kind: int, body: bytes) -> tuple[Command, int]:
    bits = _Bits(body, f"splice command 0x{kind:02X}")
    command: Command
    if kind == SPLICE_NULL:
        command = SpliceNull()
    elif kind == SPLICE_INSERT:
        command = _splice_insert(bits)
    elif kind == TIME_SIGNAL:
        command = TimeSignal(_splice_time(bits))
    else:
        return OtherCommand(kind, body), len(body)
    return command, bits.used


def parse(section: bytes) -> SpliceInfo:
    """One whole splice_info_section → SpliceInfo; anything unusable is a Scte35Error."""
    if len(section) < 17 or section[0] != TABLE_ID:
        raise Scte35Error("not a SCTE-35 section (table_id 0xFC, at least 17 bytes)")
    total = 3 + ((section[1] & 0x0F) << 8 | section[2])
    if not 17 <= total <= len(section):
        raise Scte35Error(f"SCTE-35 section is truncated or its section_length is wrong: "
                          f"{total} bytes said (17 at least), {len(section)} came")
    section = section[:total]
    if crc32_mpeg2(section) != 0:
        raise Scte35Error("SCTE-35 section fails its CRC_32")
    header = _Bits(section[3:14], "header")
    header.take(8)  # protocol_version
    if header.flag():
        raise Scte35Error("SCTE-35 section is encrypted")
    header.take(6)
    pts_adjustment = header.take(33)
    header.take(8 + 12)  # cw_index, tier
    command_length = header.take(12)
    kind = section[13]
    rest = section[14:-4]
    known = command_length != 0xFFF  # 0xFFF: left to the command (older encoders)
    if known and command_length > len(rest):
        raise Scte35Error("SCTE-35 splice command is truncated")
    command, used = _command(kind, rest[:command_length] if known else rest)
    after = rest[command_length if known else used:]
    if len(after) < 2:
        raise Scte35Error("SCTE-35 section has no descriptor_loop_length")
    loop_length = after[0] << 8 | after[1]
    if 2 + loop_length > len(after):
        raise Scte35Error("SCTE-35 descriptor loop runs past the section")
    return SpliceInfo(command, _descriptors(after[2:2 + loop_length]), pts_adjustment,
                      section)


def splice_insert(event_id: int, pts: int | None, duration_ticks: int | None,
                  out_of_network: bool = True, unique_program_id: int = 0, avail_num: int = 0,
                  avails_expected: int = 0) -> bytes:
    """A splice_insert section with its CRC_32 (pts None: splice_immediate)."""
    immediate = pts is None
    flags = (out_of_network << 7) | (1 << 6) | ((duration_ticks is not None) << 5) \
        | (immediate << 4) | 0x0F
    cmd = bytearray(event_id.to_bytes(4, "big") + bytes([0x7F, flags]))
    if pts is not None:
        cmd += (0xFE << 32 | pts % PTS_WRAP).to_bytes(5, "big")
    if duration_ticks is not None:
        cmd += (1 << 39 | 0x7E << 32 | duration_ticks % PTS_WRAP).to_bytes(5, "big")
    cmd += unique_program_id.to_bytes(2, "big") + bytes([avail_num, avails_expected])
    # protocol 0, not encrypted, pts_adjustment 0, cw_index 0xFF, tier 0xFFF
    body = bytes(6) + b"\xff" + (0xFFF << 12 | len(cmd)).to_bytes(3, "big") \
        + bytes([SPLICE_INSERT]) + cmd + b"\x00\x00"
    length = len(body) + 4  # + CRC_32
    section = bytes([TABLE_ID, 0x30 | length >> 8, length & 0xFF]) + body
    return section + crc32_mpeg2(section).to_bytes(4, "big")
