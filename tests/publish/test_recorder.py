"""hlsd.publish.recorder on a copy destination: periods, EVENT then VOD playlists, masters,
a run begun mid-period, a segment that could not be recorded."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hlsd.config.model import CopyProfile, RecordingSettings
from hlsd.media.ladder import Ladder, RungMedia
from hlsd.media.parse import parse_media
from hlsd.publish.recorder import OPEN_EVERY, Recorder
from hlsd.publish.segment import SegmentFile

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a period boundary for periods of 20 s
RUNGS = ("hi", "lo")


def ladder() -> Ladder:
    result = Ladder("live", 6)
    result.set_rungs(dict.fromkeys(RUNGS, 1_000_000))
    for rung in RUNGS:
        result.describe(rung, RungMedia("avc1.64001f", (320, 180), 25.0))
        result.measure(rung, 125_000, 1.0)
    return result


async def record(tmp_path: Path, started: datetime, seqs: range) -> Path:
    archive, work = tmp_path / "archive", tmp_path / "work"
    work.mkdir(exist_ok=True)
    recorder = Recorder(RecordingSettings(CopyProfile("archive", archive), period=20.0),
                        ladder(), 1, "live", started=started.timestamp())
    task = asyncio.create_task(recorder.run())
    for seq in seqs:
        for rung in RUNGS:
            path = work / f"live_{rung}-{seq:05d}.ts"
            path.write_bytes(b"\x47" * 188)
            recorder.offer(SegmentFile(rung, seq, path, 1.0, 188, True, False,
                                       T0 + timedelta(seconds=seq)))
    (work / f"live_lo-{seqs[-1]:05d}.ts").unlink()  # gone before it was stored: skipped
    async with asyncio.timeout(10):
        while not recorder.idle():
            await asyncio.sleep(0.01)
        if seqs[-1] < 40:  # mid-period: an EVENT playlist so far
            text = (archive / "live_hi_20260302T100020Z.m3u8").read_text()
            assert "#EXT-X-PLAYLIST-TYPE:EVENT" in text and "#EXT-X-ENDLIST" not in text
            assert len(parse_media(text).entries) == (seqs[-1] - 19) // OPEN_EVERY * OPEN_EVERY
        await recorder.close()
    task.cancel()
    return archive


async def test_periods_close_with_a_master_and_a_restart_writes_its_own_part(
        tmp_path: Path) -> None:
    """1. A run that saw 10:00:00 begin records 0..32: period 10:00:00 closes at 20, the
    open one is an EVENT playlist every 10 segments, the stop closes it. 2. A run started
    at 10:00:35 records 35..45: its part of 10:00:20 is named after its start, begins with
    a discontinuity, and 10:00:40 is a period of its own."""
    archive = await record(tmp_path, T0 - timedelta(seconds=1), range(33))
    first = parse_media((archive / "live_hi_20260302T100000Z.m3u8").read_text())
    assert first.ended and [e.seq for e in first.entries] == list(range(20))
    second = parse_media((archive / "live_hi_20260302T100020Z.m3u8").read_text())
    assert second.ended and [e.seq for e in second.entries] == list(range(20, 33))
    lo = parse_media((archive / "live_lo_20260302T100020Z.m3u8").read_text())
    assert [e.seq for e in lo.entries] == list(range(20, 32))  # 32 was gone
    master = (archive / "live_20260302T100000Z.m3u8").read_text()
    assert [line for line in master.splitlines() if not line.startswith("#")] == [
        "live_hi_20260302T100000Z.m3u8", "live_lo_20260302T100000Z.m3u8"]

    archive = await record(tmp_path, T0 + timedelta(seconds=35), range(35, 46))
    part = parse_media((archive / "live_hi_20260302T100020Z_100035.m3u8").read_text())
    assert part.ended and part.entries[0].discontinuity
    assert [e.seq for e in part.entries] == list(range(35, 40))
    assert second == parse_media((archive / "live_hi_20260302T100020Z.m3u8").read_text())
    assert (archive / "live_20260302T100020Z_100035.m3u8").is_file()
    last = parse_media((archive / "live_hi_20260302T100040Z.m3u8").read_text())
    assert [e.seq for e in last.entries] == list(range(40, 46))
    assert not last.entries[0].discontinuity
