"""Marking a live input's splice frames in its timestamps, so that every rung's encoder can
force a keyframe there (pure: bytes in, the same bytes rewritten in place).

A running ffmpeg takes no new keyframe times, but its `-force_key_frames` expression sees
each frame's time: with `-enc_time_base:v 1:90000 -fps_mode:v passthrough` exactly the
input's 90 kHz PTS less an even offset. So every PTS/DTS of every stream is made even (an
odd one 1 tick, 11 µs, earlier: nothing a player sees) except those of the video frame at
a splice point, made odd: `+eq(mod(round(t*90000),2),1)` in the expression forces the
keyframe there (hlsd.encode.ffmpeg.SPLICE_KEYFRAME), and the segmenter cuts at a keyframe
with an odd PTS.

The frame at a splice point is the first in display order whose PTS is at or after it.
With B-frames the first one to arrive (decode order) at or after the point may be shown
after some that come later: each of those is marked too until the DTS passes the first
mark (a later-decoded frame cannot be shown earlier), so the earliest of them is a
keyframe (the others cost a keyframe each, nothing else).

The PES header is rewritten in its own packet: one bit of each timestamp, lengths kept.
A header split across packets (never from ffmpeg's muxer) is left as it is.
"""

from __future__ import annotations

import re
from collections import deque

PACKET = 188
WRAP = 1 << 33  # the 90 kHz clock's modulus
HALF_WRAP = 1 << 32
VIDEO_IDS = range(0xE0, 0xF0)
LSB = 0x02  # the timestamp's lowest bit, in the 5th byte of its 5-byte field
# The relay's stream list (stderr) names a SCTE-35 input stream; its output's PMT does not
# (private data, stream_type 0x06, like teletext or ID3).
SCTE35_LINE = re.compile(r"Stream #\d+:\d+.*: Data: scte_35")
MAPPING_LINE = "Stream mapping:"  # the relay's stream list is complete
UNDECIDED_CHUNKS = 50  # a reader that lists no streams (not ffmpeg): not cued after these


def after(a: int, b: int) -> bool:
    """a is at or after b on the wrapping 33-bit clock."""
    return (a - b) % WRAP < HALF_WRAP


def timestamps(packet: bytes | bytearray | memoryview) -> tuple[int, int | None, int | None]:
    """(offset of the PES header's PTS field or -1, its PTS, its DTS) of a PES starting in
    this packet (the DTS field, when present, follows the PTS field)."""
    if not packet[1] & 0x40 or not packet[3] & 0x10:
        return -1, None, None
    start = 4 + (1 + packet[4] if packet[3] & 0x20 else 0)
    if start + 19 > PACKET or bytes(packet[start:start + 3]) != b"\0\0\1":
        return -1, None, None
    flags = packet[start + 7] >> 6
    if not flags & 2:
        return -1, None, None
    field = start + 9
    pts = read_ts(packet, field)
    dts = read_ts(packet, field + 5) if flags == 3 else None
    return field, pts, dts


def read_ts(packet: bytes | bytearray | memoryview, at: int) -> int:
    b = packet[at:at + 5]
    return (b[0] >> 1 & 7) << 30 | b[1] << 22 | (b[2] >> 1) << 15 | b[3] << 7 | b[4] >> 1


def set_parity(packet: bytearray | memoryview, at: int, odd: bool) -> None:
    """The timestamp field at `at` made odd (+1 if even) or even (−1 if odd): one bit."""
    if odd:
        packet[at + 4] |= LSB
    else:
        packet[at + 4] &= ~LSB & 0xFF


class PtsMarker:
    """Rewrites one input's packets in order. `pending` splice points (PTS on the clock of
    the packets themselves) are marked on the frames that reach them."""

    def __init__(self) -> None:
        self._points: list[int] = []  # splice points not reached yet
        self._marked: int | None = None  # the first marked frame's PTS, while B-frames may follow
        self._started: list[int] = []  # the splice points the marked frame reached
        # PTS of the frames marked lately (for the log and the tests; bounded: a channel
        # runs for months)
        self.marked: deque[int] = deque(maxlen=64)
        self.reached: list[int] = []  # splice points whose frame was marked, not yet taken
        self._done: deque[int] = deque(maxlen=64)  # points marked or dropped (repeats)

    def mark(self, pts: int, now: int | None = None) -> bool:
        """The first video frame at or after `pts` is to be marked; False when the newest
        frame (`now`) is past it already (too late), or it was marked before."""
        pts %= WRAP
        if pts in self._done:
            return False
        if now is not None and after(now, pts) and now != pts:
            self._done.append(pts)
            return False
        if pts not in self._points:
            self._points.append(pts)
        return True

    def unmark(self, pts: int) -> None:
        """A point not to be marked after all (a cancelled splice), if not reached yet."""
        self._points = [p for p in self._points if p != pts % WRAP]

    def take_reached(self) -> list[int]:
        reached, self.reached = self.reached, []
        return reached

    def pending(self) -> list[int]:
        return list(self._points)

    def drop_passed(self, now: int) -> list[int]:
        """Splice points already passed by video PTS `now` (too late to mark): forgotten,
        returned."""
        late = [p for p in self._points if after(now, p) and now != p]
        self._points = [p for p in self._points if p not in late]
        self._done.extend(late)
        return late

    def rewrite(self, chunk: bytearray | memoryview) -> None:
        """Whole 188-byte packets, rewritten in place."""
        for at in range(0, len(chunk) - PACKET + 1, PACKET):
            packet = chunk[at:at + PACKET]
            field, pts, dts = timestamps(packet)
            if pts is None:
                continue
            stream_id = packet[field - 6]
            odd = stream_id in VIDEO_IDS and self._reaches(pts, pts if dts is None else dts)
            set_parity(packet, field, odd)
            if dts is not None:
                set_parity(packet, field + 5, odd)

    def _reaches(self, pts: int, dts: int) -> bool:
        """This video frame is to be marked."""
        if self._marked is not None:
            if after(dts, self._marked):
                self._marked = None  # no later frame is shown before the marked one
            elif not after(pts, self._marked) and any(after(pts, p) for p in self._started):
                self._marked = pts
                self.marked.append(pts)
                return True
        reached = [p for p in self._points if after(pts, p)]
        if not reached:
            return False
        self._points = [p for p in self._points if p not in reached]
        self._done.extend(reached)
        self.reached.extend(reached)
        self._started = reached
        self._marked = pts
        self.marked.append(pts)
        return True


class InputMarks:
    """One input's marking: on once its relay listed a SCTE-35 stream (an input without
    one passes untouched, byte for byte). `cued` is None until the relay's stream list was
    complete (or, for a reader that prints none, UNDECIDED_CHUNKS chunks came)."""

    def __init__(self) -> None:
        self.cued: bool | None = None
        self.marker = PtsMarker()
        self._listed = False  # this run of the relay listed a SCTE-35 stream
        self._chunks = 0

    def line(self, line: str) -> None:
        if SCTE35_LINE.search(line):
            self._listed = True
        elif line.startswith(MAPPING_LINE):
            self.cued, self._listed = self._listed, False

    def rewrite(self, chunk: memoryview) -> list[int]:
        """Rewrites `chunk` in place when cued; the splice points reached in it."""
        if self.cued is None:
            self._chunks += 1
            if self._chunks >= UNDECIDED_CHUNKS:
                self.cued = False
        if not self.cued:
            return []
        self.marker.rewrite(chunk)
        return self.marker.take_reached()
