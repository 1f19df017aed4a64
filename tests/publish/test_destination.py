"""A destination's playlist progression, against the real copy backend.

The neighbour that fails on demand (FlakyCopy) wraps the real CopyTransfer: the thing
under test is the publisher's ordering, skipping, catching up and retention.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hlsd.config import CopyProfile
from hlsd.media.ladder import Ladder, RungMedia
from hlsd.media.parse import parse_media
from hlsd.publish.destination import Destination
from hlsd.publish.segment import SegmentFile
from hlsd.publish.settings import PublishSettings
from hlsd.publish.transfer.base import TransferError
from hlsd.publish.transfer.copy import CopyTransfer
from tests.daemon_util import until

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


class FlakyCopy(CopyTransfer):
    """The real copy backend, plus a switch that makes every call fail (a dead server)
    and a log of what became visible in which order."""

    def __init__(self, directory: Path) -> None:
        super().__init__(CopyProfile("flaky", directory))
        self.down = False
        self.visible: set[str] = set()
        self.violations: list[str] = []

    def _check(self) -> None:
        if self.down:
            raise TransferError("destination down (test)")

    async def put_segment(self, local: Path, name: str) -> None:
        self._check()
        await super().put_segment(local, name)
        self.visible.add(name)

    async def put_playlist(self, data: bytes, name: str) -> None:
        self._check()
        text = data.decode()
        for line in text.splitlines():
            if line and not line.startswith("#") and line not in self.visible:
                self.violations.append(f"{name} names {line} before it was stored")
        await super().put_playlist(data, name)
        self.visible.add(name)

    async def delete(self, names: Sequence[str]) -> None:
        self._check()
        await super().delete(names)
        self.visible.difference_update(names)


def make_segment(work: Path, rung: str, seq: int, duration: float = 1.0) -> SegmentFile:
    path = work / f"live_{rung}-{seq:05d}.ts"
    path.write_bytes(b"\x47" * 188 * 10)
    seg = SegmentFile(rung=rung, seq=seq, path=path, duration=duration, nbytes=1880,
                      independent=True, discontinuity=False,
                      program_date_time=T0 + timedelta(seconds=seq * duration))
    seg.hold()
    return seg


def ladder(*rungs: str) -> Ladder:
    lad = Ladder("live", 4)
    lad.set_rungs(dict.fromkeys(rungs))
    for rung in rungs:
        lad.describe(rung, RungMedia("avc1.64001f,mp4a.40.2", (640, 360), 25.0))
        lad.rungs[rung].add(250_000, 2.0)
    return lad


@asynccontextmanager
async def serving(dest: Destination) -> AsyncIterator[Destination]:
    """The destination's workers run for the block; cancelled after it, as on shutdown."""
    task = asyncio.create_task(dest.run())
    try:
        yield dest
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    work, www = tmp_path / "work", tmp_path / "www"
    work.mkdir()
    return work, www


async def test_segment_then_variant_then_master_in_order(dirs: tuple[Path, Path]) -> None:
    """1. two rungs; segments offered one by one
    2. no playlist ever names an object that is not stored yet
    3. the master appears only when both variants exist; temp files are released"""
    work, www = dirs
    transfer = FlakyCopy(www)
    dest = Destination(transfer, 2, PublishSettings(2, 4, 2.0, ""), ladder("a", "b"))
    async with serving(dest):
        segs = [make_segment(work, "a", 0, 2.0)]
        dest.offer(segs[0])
        await until(lambda: (www / "live_a.m3u8").exists())
        assert not (www / "live.m3u8").exists()  # rung b has no variant yet
        for seq in range(0, 8):
            for rung in ("a", "b"):
                if (rung, seq) != ("a", 0):
                    seg = make_segment(work, rung, seq, 2.0)
                    segs.append(seg)
                    dest.offer(seg)
        await until(lambda: "live_b-00007.ts" in (www / "live_b.m3u8").read_text()
                    if (www / "live_b.m3u8").exists() else False)
        await until(lambda: "live_a-00007.ts" in (www / "live_a.m3u8").read_text())
        assert (www / "live.m3u8").exists()
        assert transfer.violations == []
        assert not any(s.path.exists() for s in segs)  # every temp file released


async def test_outage_skips_what_left_the_window_and_catches_up(
        dirs: tuple[Path, Path]) -> None:
    """1. the destination dies; 12 segments arrive (window 4, capacity 4)
    2. the oldest are skipped and counted, never referenced
    3. it comes back: the playlist jumps to the newest window with a discontinuity and
       media sequence == first listed segment"""
    work, www = dirs
    transfer = FlakyCopy(www)
    dest = Destination(transfer, 2, PublishSettings(1, 4, 1.0, ""), ladder("a"))
    async with serving(dest):
        dest.offer(make_segment(work, "a", 0))
        await until(lambda: (www / "live_a.m3u8").exists())
        transfer.down = True
        for seq in range(1, 13):
            dest.offer(make_segment(work, "a", seq))
        assert dest.skipped >= 12 - 4 - 1
        transfer.down = False
        await until(lambda: "live_a-00012.ts" in (www / "live_a.m3u8").read_text())
        playlist = parse_media((www / "live_a.m3u8").read_text())
        seqs = [e.seq for e in playlist.entries]
        assert seqs == list(range(seqs[0], 13)) and playlist.media_sequence == seqs[0]
        assert playlist.entries[0].discontinuity  # the gap is marked
        assert transfer.violations == []


async def test_expired_segments_are_deleted_after_the_grace_time(
        dirs: tuple[Path, Path]) -> None:
    """1. 0.2 s segments, target 1 s, window 3: the window keeps >= 3 s (16 segments)
    2. a segment that left the playlist stays for its duration + the playlist's duration
    3. then it is deleted; nothing still listed is ever deleted"""
    work, www = dirs
    dest = Destination(FlakyCopy(www), 2, PublishSettings(1, 3, 0.2, ""), ladder("a"))
    async with serving(dest):
        loop = asyncio.get_running_loop()

        def listed() -> set[str]:
            path = www / "live_a.m3u8"
            return {e.name for e in parse_media(path.read_text()).entries} if path.exists() \
                else set()

        left_at = None
        for seq in range(0, 30):
            dest.offer(make_segment(work, "a", seq, 0.2))
            await until(lambda seq=seq: f"live_a-{seq:05d}.ts" in listed())
            if left_at is None and "live_a-00000.ts" not in listed():
                left_at = loop.time()
            for name in listed():
                assert (www / name).exists(), f"{name} is listed but missing"
        assert left_at is not None
        await until(lambda: not (www / "live_a-00000.ts").exists(), timeout=10)
        # grace = 0.2 s + the ~3.2 s playlist that contained it
        assert loop.time() - left_at >= 3.0
        assert dest.skipped == 0


async def test_finished_rung_gets_endlist(dirs: tuple[Path, Path]) -> None:
    work, www = dirs
    dest = Destination(FlakyCopy(www), 2, PublishSettings(2, 0, 2.0, ""), ladder("a"))
    async with serving(dest):
        for seq in range(3):
            dest.offer(make_segment(work, "a", seq, 2.0))
        await until(lambda: bool(dest.lanes))
        dest.finish_rung("a")
        await asyncio.wait_for(dest.wait_finished(["a"]), 10)
        text = (www / "live_a.m3u8").read_text()
        assert text.rstrip().endswith("#EXT-X-ENDLIST") and "#EXT-X-PLAYLIST-TYPE:VOD" in text
        assert text.count(".ts") == 3


async def test_state_snapshot_restores_the_window(dirs: tuple[Path, Path]) -> None:
    work, www = dirs
    dest = Destination(FlakyCopy(www), 2, PublishSettings(2, 4, 2.0, ""), ladder("a"))
    async with serving(dest):
        for seq in range(6):
            dest.offer(make_segment(work, "a", seq, 2.0))
        await until(lambda: "live_a-00005.ts" in ((www / "live_a.m3u8").read_text()
                                                 if (www / "live_a.m3u8").exists() else ""))
    again = Destination(FlakyCopy(www), 2, PublishSettings(2, 4, 2.0, ""), ladder("a"),
                        state=dest.snapshot())
    assert again.last_seq() == 5
    assert again.playlists["a"].entries == dest.playlists["a"].entries


class GatedCopy(FlakyCopy):
    """Playlist writes wait for the test to open the gate: a slow server, made observable."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.gate = asyncio.Event()
        self.playlist_waiting = asyncio.Event()

    async def put_playlist(self, data: bytes, name: str) -> None:
        self.playlist_waiting.set()
        await self.gate.wait()
        await super().put_playlist(data, name)


async def test_not_idle_until_the_last_segment_is_in_a_published_playlist(
        dirs: tuple[Path, Path]) -> None:
    """1. a segment is stored; the playlist naming it is still being written
    2. the destination is not idle (a graceful stop waits on idle(): stopping now would
       leave the last segment stored but unlisted)
    3. once the playlist is written it is idle, and the playlist names the segment"""
    work, www = dirs
    transfer = GatedCopy(www)
    dest = Destination(transfer, 2, PublishSettings(2, 4, 2.0, ""), ladder("a"))
    async with serving(dest):
        dest.offer(make_segment(work, "a", 7, 2.0))
        await asyncio.wait_for(transfer.playlist_waiting.wait(), 10)
        assert "live_a-00007.ts" in transfer.visible and not dest.lanes["a"].items
        assert not dest.idle()
        transfer.gate.set()
        await until(dest.idle)
        assert "live_a-00007.ts" in (www / "live_a.m3u8").read_text()


async def test_a_missing_local_file_is_skipped_without_taking_the_destination_down(
        dirs: tuple[Path, Path]) -> None:
    """1. a segment's file vanished from temp_dir before its upload
    2. it is skipped and counted; the destination is never marked down (that would stall
       every rung's lane behind a backoff), and the next segment is published"""
    work, www = dirs
    dest = Destination(FlakyCopy(www), 2, PublishSettings(2, 4, 2.0, ""), ladder("a"))
    async with serving(dest):
        lost = make_segment(work, "a", 0, 2.0)
        lost.path.unlink()
        dest.offer(lost)
        dest.offer(make_segment(work, "a", 1, 2.0))
        downs = []

        def published() -> bool:
            downs.append(dest.retry.down)
            path = www / "live_a.m3u8"
            return path.exists() and "live_a-00001.ts" in path.read_text()

        await until(published)
        assert dest.skipped == 1 and not any(downs)
        assert "live_a-00000.ts" not in (www / "live_a.m3u8").read_text()


async def test_a_destination_slower_than_real_time_keeps_publishing(
        dirs: tuple[Path, Path]) -> None:
    """1. every segment upload takes longer than a segment lasts, so the lane overflows
       while its head is being uploaded
    2. the segment being uploaded is not the one dropped: uploads complete and the
       playlist keeps advancing (it used to freeze for good, losing every upload)"""
    work, www = dirs

    class Slow(FlakyCopy):
        """Reads the file at once (as an upload holds it open), then takes its time."""

        async def put_segment(self, local: Path, name: str) -> None:
            staged = local.with_name(local.name + ".sending")
            os.link(local, staged)
            await asyncio.sleep(0.3)
            await super().put_segment(staged, name)
            staged.unlink()

    dest = Destination(Slow(www), 1, PublishSettings(1, 2, 0.2, ""), ladder("a"))
    listed: set[str] = set()

    def newest() -> int:
        text = (www / "live_a.m3u8").read_text() if (www / "live_a.m3u8").exists() else ""
        names = [line for line in text.splitlines() if line.endswith(".ts")]
        listed.update(names)
        return int(names[-1].rsplit("-", 1)[1][:-3]) if names else -1

    async with serving(dest):
        for seq in range(80):  # a segment every 0.1 s, an upload every 0.3 s
            dest.offer(make_segment(work, "a", seq, 0.2))
            await asyncio.sleep(0.1)
            newest()
        # Still overloaded here: the playlist must have kept up with the window.
        assert newest() >= 80 - 3 * dest.settings.lane_capacity, sorted(listed)[-3:]
    assert dest.skipped > 0 and len(listed) >= 10


async def test_a_segment_its_playlist_refuses_is_skipped_and_the_lane_goes_on(
        dirs: tuple[Path, Path]) -> None:
    """1. a stored segment that its playlist cannot take (its duration rounds above the
       target duration: the model raises PlaylistError)
    2. it is logged, counted as skipped and deleted later; the lane worker is not lost
       with it (it used to die silently, stopping that rung at that destination), and
       the next segment is published"""
    work, www = dirs
    dest = Destination(FlakyCopy(www), 2, PublishSettings(2, 4, 2.0, ""), ladder("a"))
    async with serving(dest):
        dest.offer(make_segment(work, "a", 0, 9.0))  # target 2 s: cannot be listed
        dest.offer(make_segment(work, "a", 1, 2.0))

        def published() -> bool:
            path = www / "live_a.m3u8"
            return path.exists() and "live_a-00001.ts" in path.read_text()

        await until(published)
        assert dest.skipped == 1
        assert "live_a-00000.ts" not in (www / "live_a.m3u8").read_text()
        assert not dest.retry.down
