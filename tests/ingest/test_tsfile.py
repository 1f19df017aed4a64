"""A file input's packets (hlsd.ingest.tsfile): whole packets in order, junk skipped."""

from __future__ import annotations

from pathlib import Path

import pytest

from hlsd.ingest.tsfile import CHUNK, PACKET, is_transport_stream, read_packets


def packet(n: int) -> bytes:
    return bytes([0x47, n >> 8 & 0x1F, n & 0xFF, 0x10]).ljust(PACKET, b"\xaa")


def test_packets_in_order_across_reads_and_after_junk(tmp_path: Path) -> None:
    count = CHUNK // PACKET + 10  # more than one read
    data = b"".join(packet(i) for i in range(count))
    path = tmp_path / "in.ts"
    path.write_bytes(data[:PACKET * 5] + b"junk" + data[PACKET * 5:] + b"\x47tail")
    seen: list[bytes] = []
    read_packets(path, seen.append)
    assert seen == [packet(i) for i in range(count)]
    assert is_transport_stream(path)


def test_what_is_not_a_transport_stream(tmp_path: Path) -> None:
    text = tmp_path / "film.mp4"
    text.write_bytes(b"\x00\x00\x00\x18ftypmp42" * 100)
    assert not is_transport_stream(text)
    assert not is_transport_stream(tmp_path / "missing.ts")
    with pytest.raises(OSError):
        read_packets(tmp_path / "missing.ts", lambda _: None)
