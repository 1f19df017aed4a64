"""A file input's MPEG-TS packets, read once before encoding (hlsd.service.splices looks
for SCTE-35 in them): 188-byte packets, resynchronised after junk, handed to a callback."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

PACKET = 188
SYNC = 0x47
CHUNK = PACKET * 4096  # ~770 kB per read


def is_transport_stream(path: Path) -> bool:
    """Whether the file starts like MPEG-TS: a sync byte every 188 bytes, three times."""
    try:
        with path.open("rb") as file:
            head = file.read(PACKET * 3)
    except OSError:
        return False
    return len(head) == PACKET * 3 and all(head[i * PACKET] == SYNC for i in range(3))


def read_packets(path: Path, feed: Callable[[bytes], None]) -> None:
    """Every whole packet of `path`, in order; OSError when the file cannot be read."""
    rest = b""
    with path.open("rb") as file:
        while chunk := file.read(CHUNK):
            data = rest + chunk
            pos = 0
            while pos + PACKET <= len(data):
                if data[pos] != SYNC:  # junk: on to the next sync byte
                    found = data.find(bytes([SYNC]), pos + 1)
                    pos = found if found >= 0 else len(data)
                    continue
                feed(data[pos:pos + PACKET])
                pos += PACKET
            rest = data[pos:]
