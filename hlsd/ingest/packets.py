"""Reading a child's MPEG-TS output in whole 188-byte packets, so that whoever joins the
stream later (an encoder, a switch) starts on a packet boundary."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

TS_PACKET = 188
READ_SIZE = 64 * 1024
VIDEO_STREAM_IDS = range(0xE0, 0xF0)  # PES stream_id of MPEG video (H.264, HEVC...)


def video_starts(chunk: memoryview) -> tuple[bool, bool]:
    """(a video PES starts in `chunk`, one of them at a random access point): whole TS
    packets, as an ffmpeg muxer writes them (the adaptation field's
    random_access_indicator on a keyframe's first packet)."""
    video = key = False
    for at in range(0, len(chunk) - TS_PACKET + 1, TS_PACKET):
        flags = chunk[at + 1]
        if not flags & 0x40:  # no payload_unit_start
            continue
        control = chunk[at + 3] >> 4 & 3
        start = at + 4
        rai = False
        if control & 2:  # adaptation field first
            length = chunk[at + 4]
            rai = length > 0 and bool(chunk[at + 5] & 0x40)
            start += 1 + length
        if not control & 1 or start + 4 > at + TS_PACKET:
            continue
        if chunk[start:start + 3].tobytes() == b"\0\0\1" and chunk[start + 3] in VIDEO_STREAM_IDS:
            video = True
            key = key or rai
    return video, key


async def read_packets(stream: asyncio.StreamReader,
                       deliver: Callable[[memoryview], None]) -> bytes:
    """Whole packets to `deliver` as they come, until EOF; returns the partial packet
    left at the end (b"" for a stream that ended on a boundary)."""
    pending = b""
    while data := await stream.read(READ_SIZE):
        whole = bytearray(pending)  # writable: a SCTE-35 input's timestamps get marked
        whole += data
        cut = len(whole) - len(whole) % TS_PACKET
        pending = bytes(whole[cut:])
        if cut:
            deliver(memoryview(whole)[:cut])
    return pending
