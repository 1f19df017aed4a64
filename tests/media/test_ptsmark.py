"""Marking splice frames in a live input's timestamps (hlsd.media.ptsmark): every PTS/DTS
even, the frame at each splice point odd, in place, lengths kept, through the 33-bit wrap."""

from __future__ import annotations

from hlsd.media.ptsmark import WRAP, PtsMarker, after, read_ts, timestamps

VIDEO, AUDIO = 0xE0, 0xC0
FRAME = 3600  # 25 fps


def ts_field(prefix: int, value: int) -> bytes:
    return bytes([prefix << 4 | (value >> 29 & 0x0E) | 1, value >> 22 & 0xFF,
                  (value >> 14 & 0xFE) | 1, value >> 7 & 0xFF, (value << 1 & 0xFE) | 1])


def pes_packet(stream_id: int, pts: int, dts: int | None = None, pid: int = 0x100,
               adaptation: int = 0) -> bytes:
    """A TS packet starting a PES with these timestamps (an adaptation field of
    `adaptation` stuffing bytes first, if any)."""
    flags = 0xC0 if dts is not None else 0x80
    fields = ts_field(3 if dts is not None else 2, pts)
    if dts is not None:
        fields += ts_field(1, dts)
    pes = bytes([0, 0, 1, stream_id, 0, 0, 0x80, flags, len(fields)]) + fields
    control = 0x30 if adaptation else 0x10
    head = bytes([0x47, 0x40 | pid >> 8, pid & 0xFF, control])
    if adaptation:
        head += bytes([adaptation]) + b"\0" + b"\xff" * (adaptation - 1)
    return (head + pes).ljust(188, b"\xaa")


def stamps(packet: bytes | bytearray) -> tuple[int | None, int | None]:
    return timestamps(packet)[1:]


def run(marker: PtsMarker, packets: list[bytes]) -> list[tuple[int | None, int | None]]:
    chunk = bytearray(b"".join(packets))
    marker.rewrite(memoryview(chunk))
    assert len(chunk) == 188 * len(packets)
    return [stamps(chunk[i:i + 188]) for i in range(0, len(chunk), 188)]


def test_timestamps_are_read_back_as_written() -> None:
    packet = pes_packet(VIDEO, 0x1_2345_6789, 0x1_2345_0001, adaptation=7)
    assert stamps(packet) == (0x1_2345_6789, 0x1_2345_0001)
    assert stamps(pes_packet(AUDIO, 12345)) == (12345, None)
    assert read_ts(ts_field(2, WRAP - 1), 0) == WRAP - 1


def test_every_timestamp_is_made_even_and_nothing_else_changes() -> None:
    packets = [pes_packet(VIDEO, 133201, 126001), pes_packet(AUDIO, 129361),
               pes_packet(VIDEO, 136800, 129600), pes_packet(0xFC, 130001)]
    before = b"".join(packets)
    chunk = bytearray(before)
    PtsMarker().rewrite(memoryview(chunk))
    assert [stamps(chunk[i:i + 188]) for i in range(0, len(chunk), 188)] == [
        (133200, 126000), (129360, None), (136800, 129600), (130000, None)]
    changed = [i for i, (a, b) in enumerate(zip(before, chunk, strict=True)) if a != b]
    assert all(i % 188 in (17, 22) for i in changed), changed  # one bit of each field


def test_the_first_frame_at_or_after_a_splice_point_is_odd() -> None:
    marker = PtsMarker()
    marker.mark(126000 + 5 * FRAME + 1000)  # between frames 5 and 6
    frames = [126000 + k * FRAME for k in range(10)]
    out = run(marker, [pes_packet(VIDEO, t, t) for t in frames])
    odd = [pts for pts, _ in out if pts is not None and pts % 2]
    assert odd == [frames[6] + 1] and out[6] == (frames[6] + 1, frames[6] + 1)
    assert list(marker.marked) == [frames[6]] and marker.pending() == []
    assert all(pts is not None and pts % 2 == 0 for pts, _ in out[7:])


def test_audio_never_carries_the_mark() -> None:
    marker = PtsMarker()
    marker.mark(1000)
    out = run(marker, [pes_packet(AUDIO, 1001), pes_packet(VIDEO, 3600, 3600)])
    assert out == [(1000, None), (3601, 3601)]


def test_b_frames_shown_before_the_first_marked_one_are_marked_too() -> None:
    """Decode order I P B B (PTS 0, 3, 1, 2 frames): a splice point at frame 1 arrives
    with P (frame 3) first; B frames 1 and 2 come after it and are shown before it."""
    marker = PtsMarker()
    base = 900_000
    marker.mark(base + FRAME)
    order = [(0, -1), (3, 0), (1, 1), (2, 2), (6, 3), (4, 4)]
    out = run(marker, [pes_packet(VIDEO, base + p * FRAME, base + d * FRAME)
                       for p, d in order])
    odd = sorted(pts for pts, _ in out if pts is not None and pts % 2)
    assert odd[0] == base + FRAME + 1  # the earliest shown: the keyframe the cut is at
    assert all(pts is not None and pts % 2 == 0 for pts, _ in out[4:])


def test_a_splice_point_across_the_33_bit_wrap() -> None:
    marker = PtsMarker()
    marker.mark(WRAP - 1000)  # reached by the first frame after the wrap
    out = run(marker, [pes_packet(VIDEO, WRAP - 3600 + 1, WRAP - 3600 + 1),
                       pes_packet(VIDEO, 2600, 2600), pes_packet(VIDEO, 6200, 6200)])
    assert out == [(WRAP - 3600, WRAP - 3600), (2601, 2601), (6200, 6200)]
    assert after(5, WRAP - 5) and not after(WRAP - 5, 5)


def test_a_point_already_passed_is_dropped_unmarked() -> None:
    marker = PtsMarker()
    marker.mark(5000)
    assert marker.drop_passed(4000) == [] and marker.drop_passed(9000) == [5000]
    out = run(marker, [pes_packet(VIDEO, 9001, 9001)])
    assert out == [(9000, 9000)] and list(marker.marked) == []


def test_packets_without_a_pes_start_are_left_alone() -> None:
    packet = bytearray(pes_packet(VIDEO, 3601, 3601))
    packet[1] &= ~0x40 & 0xFF  # no payload_unit_start: a PES continuing
    chunk = bytearray(packet)
    PtsMarker().rewrite(memoryview(chunk))
    assert chunk == packet


def test_an_input_is_marked_only_when_its_relay_lists_scte35() -> None:
    from hlsd.media.ptsmark import UNDECIDED_CHUNKS, InputMarks

    packet = pes_packet(VIDEO, 3601, 3601)
    plain = InputMarks()
    for line in ("Input #0, mpegts, from 'udp://…':", "  Stream #0:0[0x100]: Video: h264",
                 "Stream mapping:"):
        plain.line(line)
    chunk = bytearray(packet)
    assert plain.cued is False and plain.rewrite(memoryview(chunk)) == [] and chunk == packet
    cued = InputMarks()
    assert cued.cued is None
    cued.line("  Stream #0:2[0x1f0]: Data: scte_35")
    cued.line("Stream mapping:")
    cued.marker.mark(3000)
    chunk = bytearray(packet)
    assert cued.cued is True and cued.rewrite(memoryview(chunk)) == [3000]
    assert stamps(chunk) == (3601, 3601)
    silent = InputMarks()  # a reader that lists nothing: untouched, then known
    for _ in range(UNDECIDED_CHUNKS):
        chunk = bytearray(packet)
        silent.rewrite(memoryview(chunk))
        assert chunk == packet
    assert silent.cued is False
