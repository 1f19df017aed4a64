"""PSI sections (a SCTE-35 PID's splice_info_sections) put back together from the 188-byte
MPEG-TS packets that carry them (ISO/IEC 13818-1 §2.4.4). Pure.

A section may start anywhere in a packet's payload (after the pointer_field of a packet
with payload_unit_start_indicator), span several packets, and be followed by another
section or by 0xFF stuffing. Input is a live source's: anything that does not fit (a bad
sync byte, a lost packet, a length that runs wild) is skipped and counted, never raised,
and the next payload_unit_start begins afresh.
"""

from __future__ import annotations

PACKET = 188
SYNC = 0x47
MAX_SECTION = 4096  # private sections: section_length ≤ 4093 (+ 3 header bytes)


def crc32_mpeg2(data: bytes) -> int:
    """MPEG-2 CRC-32 (poly 0x04C11DB7, init 0xFFFFFFFF, no reflection, no final xor): a
    whole section including its CRC_32 field gives 0."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
            crc &= 0xFFFFFFFF
    return crc


class SectionAssembler:
    """Fed the packets of one PID, in order; returns the sections each completes (CRC
    unchecked: the section's parser checks it). `skipped` counts what was dropped."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.skipped = 0
        self._buffer = bytearray()
        self._collecting = False
        self._counter: int | None = None

    def feed(self, packet: bytes) -> list[bytes]:
        found: list[bytes] = []
        self._feed(packet, found)
        return found

    def _feed(self, packet: bytes, found: list[bytes]) -> None:
        if len(packet) != PACKET or packet[0] != SYNC:
            self._drop()
            return
        if packet[1] & 0x80:  # transport_error_indicator
            self._drop()
            return
        if ((packet[1] & 0x1F) << 8 | packet[2]) != self.pid:
            return
        control, counter = packet[3] >> 4 & 0x3, packet[3] & 0x0F
        if not control & 0x1:  # no payload (adaptation field only, or reserved)
            return
        if self._counter is not None and counter == self._counter:
            return  # a duplicate packet (§2.4.3.3): carries nothing new
        lost = self._counter is not None and counter != (self._counter + 1) & 0x0F
        self._counter = counter
        start = 4
        if control & 0x2:
            start += 1 + packet[4]
            if start > PACKET:
                self._drop()
                return
        payload = bytes(packet[start:])
        if lost and self._collecting:
            self._drop()
        if packet[1] & 0x40:  # payload_unit_start_indicator: pointer_field first
            if not payload:
                self._drop()
                return
            pointer = payload[0]
            if 1 + pointer > len(payload):
                self._drop()
                return
            if self._collecting:
                self._buffer += payload[1:1 + pointer]
                self._complete(found)
                if self._collecting and self._buffer:  # a tail that did not finish it
                    self._drop()
            self._buffer = bytearray(payload[1 + pointer:])
            self._collecting = True
        elif self._collecting:
            self._buffer += payload
        else:
            return  # the middle of a section whose start was not seen
        self._complete(found)

    def _complete(self, found: list[bytes]) -> None:
        """Takes every whole section off the buffer's head; stops at stuffing."""
        while self._collecting:
            if not self._buffer:
                return
            if self._buffer[0] == 0xFF:  # stuffing: the rest of the payload is padding
                self._reset()
                return
            if len(self._buffer) < 3:
                return
            total = 3 + ((self._buffer[1] & 0x0F) << 8 | self._buffer[2])
            if total > MAX_SECTION:
                self._drop()
                return
            if len(self._buffer) < total:
                return
            section = bytes(self._buffer[:total])
            del self._buffer[:total]
            found.append(section)

    def _drop(self) -> None:
        self.skipped += 1
        self._reset()

    def _reset(self) -> None:
        self._buffer = bytearray()
        self._collecting = False


def packetize(section: bytes, pid: int, counter: int = 0) -> list[bytes]:
    """A section as TS packets of `pid` (pointer_field 0, 0xFF stuffing): what a muxer
    sends, for tests and for a source hlsd writes itself."""
    packets: list[bytes] = []
    data = b"\x00" + section
    first = True
    while data or first:
        chunk, data = data[:PACKET - 4], data[PACKET - 4:]
        header = bytes([SYNC, (0x40 if first else 0) | pid >> 8 & 0x1F, pid & 0xFF,
                         0x10 | counter & 0x0F])
        packets.append(header + chunk + b"\xff" * (PACKET - 4 - len(chunk)))
        counter += 1
        first = False
    return packets
