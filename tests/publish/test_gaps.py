"""EXT-X-GAP through the publish stage: the intake hands a live ladder's segments to the
gap filler, which lists the numbers a rung could not produce, in the rung's order, at a
real copy destination; time is a fake clock stepped by the test (GapFiller.list_due is
one step of its run loop)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from hlsd.config import CopyProfile
from hlsd.encode.events import SegmentReady
from hlsd.media.gaps import LadderProgress
from hlsd.media.ladder import Ladder, RungMedia
from hlsd.media.parse import parse_media
from hlsd.media.playlist import MediaPlaylist
from hlsd.publish.destination import Destination
from hlsd.publish.destinations import DestinationSet
from hlsd.publish.gaps import GapFiller
from hlsd.publish.intake import Intake
from hlsd.publish.settings import PublishSettings
from hlsd.publish.transfer.copy import CopyTransfer
from hlsd.service.metrics import Metrics
from tests.daemon_util import until
from tests.hlscheck import MediaPlaylistWatcher, Segment, parse_media_text


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class WatchedCopy(CopyTransfer):
    """The real copy backend; every playlist written is checked as a client would
    (RFC 8216 rules, every non-gap URI stored already); what was stored or deleted, and
    every segment each variant ever listed (rung -> MSN -> segment)."""

    def __init__(self, directory: Path) -> None:
        super().__init__(CopyProfile("www", directory))
        self.stored: list[str] = []
        self.deleted: list[str] = []
        self.watchers: dict[str, MediaPlaylistWatcher] = {}
        self.listed: dict[str, dict[int, Segment]] = {}

    async def put_segment(self, local: Path, name: str) -> None:
        await super().put_segment(local, name)
        self.stored.append(name)

    async def put_playlist(self, data: bytes, name: str) -> None:
        if name.startswith("live_") and not name.endswith("iframes.m3u8"):
            watcher = self.watchers.setdefault(name, MediaPlaylistWatcher(name))
            watcher.check(data.decode(), lambda uri: uri in self.stored)
            rung = name.removeprefix("live_").removesuffix(".m3u8")
            for seg in parse_media_text(data.decode()).segments:
                self.listed.setdefault(rung, {})[seg.msn] = seg
        await super().put_playlist(data, name)

    async def delete(self, names: Sequence[str]) -> None:
        self.deleted += names
        await super().delete(names)


class Ladder2:
    """Rungs a and b of a live ladder, an intake with a gap filler on a fake clock, one
    copy destination."""

    def __init__(self, tmp: Path, rungs: tuple[str, ...] = ("a", "b"), window: int = 4
                 ) -> None:
        self.work, self.www = tmp / "work", tmp / "www"
        self.clock = Clock()
        self.ladder = Ladder("live", window)
        self.ladder.set_rungs(dict.fromkeys(rungs))
        for rung in rungs:
            (self.work / rung).mkdir(parents=True)
            self.ladder.describe(rung, RungMedia("avc1.64001f", (320, 180), 25.0))
        self.metrics = Metrics()
        self.transfer = WatchedCopy(self.www)
        self.dest = Destination(self.transfer, 2, PublishSettings(1, window, 1.0, ""),
                                self.ladder, self.metrics)
        destinations = DestinationSet(self.ladder, self.metrics, 1)
        destinations.include(self.dest)
        self.intake = Intake(self.work, self.ladder, destinations, self.metrics,
                             gaps=LadderProgress(1.0, window))
        assert self.intake.gaps is not None
        self.filler = self.intake.gaps = GapFiller(
            self.intake.gaps.progress, self.ladder, self.intake.timeline, destinations,
            self.metrics, clock=self.clock)

    async def segment(self, rung: str, seq: int, at: float, *, discontinuity: bool = False,
                      duration: float = 1.0) -> Path:
        self.clock.now = at
        path = self.work / rung / f"live_{rung}-{seq:05d}.ts"
        path.write_bytes(b"\x47" * 188 * 4)
        await self.intake.event(rung, SegmentReady(seq, str(path), duration, 90_000 * seq,
                                                   188 * 4, True, discontinuity))
        await until(lambda: not self.dest.queued)  # stored, in order, before the next
        return path

    async def step(self, at: float) -> int:
        self.clock.now = at
        listed = self.filler.list_due()
        await until(lambda: not self.dest.queued)
        return listed

    def history(self, rung: str) -> list[tuple[int, bool, bool]]:
        """(MSN, gap, discontinuity) of everything the rung's playlist ever listed."""
        listed = self.transfer.listed.get(rung, {})
        return [(s.msn, s.gap, s.discontinuity) for _, s in sorted(listed.items())]

    def published(self, rung: str) -> MediaPlaylist | None:
        path = self.www / f"live_{rung}.m3u8"
        return parse_media(path.read_text(), window=4) if path.exists() else None

    async def until_listed(self, rung: str, seq: int) -> MediaPlaylist:
        def listed() -> bool:
            playlist = self.published(rung)
            return playlist is not None and bool(playlist.entries) \
                and playlist.entries[-1].seq >= seq

        await until(listed)
        playlist = self.published(rung)
        assert playlist is not None
        return playlist

    def counted(self, name: str, rung: str) -> float:
        value = self.metrics.registry.get_sample_value(name, {"rung": rung})
        return value or 0.0


@asynccontextmanager
async def serving(ladder: Ladder2) -> AsyncIterator[Ladder2]:
    task = asyncio.create_task(ladder.dest.run())
    try:
        yield ladder
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def together(ladder: Ladder2, seqs: range, b_late: float = 0.1) -> None:
    for seq in seqs:
        await ladder.segment("a", seq, float(seq))
        await ladder.segment("b", seq, seq + b_late)


async def test_a_silent_rung_keeps_pace_with_gaps_and_comes_back(tmp_path: Path) -> None:
    """1. a and b produce 0..2 (b 0.1 s after a); then b falls silent while a goes on
    2. each of b's numbers becomes a gap once a has it and one segment (plus b's lag)
       passed: b's playlist advances with a, in order, GAP entries named as b's segments
       would be, never stored, and the master stays published
    3. b comes back with 6 (a restarted encoder: a discontinuity): listed after the gaps
    4. every playlist written passed the client's checks; nothing stored for a gap"""
    async with serving(Ladder2(tmp_path)) as ladder:
        await together(ladder, range(3))
        for seq in range(3, 6):
            await ladder.segment("a", seq, float(seq))
            assert await ladder.step(seq + 1.05) == 0  # b's lag (0.1) + one segment: not yet
            assert await ladder.step(seq + 1.1) == 1
        await ladder.segment("a", 6, 6.0)
        await ladder.segment("b", 6, 6.3, discontinuity=True)
        b = await ladder.until_listed("b", 6)
    assert ladder.history("b") == [
        (0, False, False), (1, False, False), (2, False, False), (3, True, False),
        (4, True, False), (5, True, False), (6, False, True)]
    assert [e.name for e in b.entries if e.gap] == [f"live_b-0000{n}.ts" for n in (3, 4, 5)]
    assert not any(name.startswith("live_b-0000" + n) for name in ladder.transfer.stored
                   for n in "345")
    text = (ladder.www / "live_b.m3u8").read_text()
    assert text.count("#EXT-X-GAP") == 3 and (ladder.www / "live.m3u8").exists()
    assert ladder.counted("hlsd_gap_segments_total", "b") == 3
    assert parse_media_text(text).segments[-2].gap


async def test_a_late_segment_is_dropped_and_its_discontinuity_carried(
        tmp_path: Path) -> None:
    """1. b's 3 became a gap; b's restarted encoder then delivers 3 (its first: marked
       as a discontinuity) — too late
    2. it is dropped: its file deleted from temp_dir, counted, never listed or stored
    3. b's 4 is listed after the gap, carrying the discontinuity the dropped one had"""
    async with serving(Ladder2(tmp_path)) as ladder:
        await together(ladder, range(3))
        await ladder.segment("a", 3, 3.0)
        assert await ladder.step(4.2) == 1
        late = await ladder.segment("b", 3, 4.3, discontinuity=True)
        assert not late.exists()
        await ladder.segment("a", 4, 4.0)
        await ladder.segment("b", 4, 5.3)
        await ladder.until_listed("b", 4)
    assert ladder.history("b")[2:] == [(2, False, False), (3, True, False), (4, False, True)]
    assert "live_b-00003.ts" not in ladder.transfer.stored
    assert ladder.counted("hlsd_late_segments_dropped_total", "b") == 1


async def test_a_jump_is_filled_a_longer_jump_still_empties(tmp_path: Path) -> None:
    """1. b comes back numbered 5 before any gap was due: 3 and 4 are listed as gaps
       first (the playlist keeps its segments)
    2. b then jumps by more than the window (4): the playlist starts again from the new
       segment with a discontinuity, as before gaps existed"""
    async with serving(Ladder2(tmp_path)) as ladder:
        await together(ladder, range(3))
        await ladder.segment("a", 3, 3.0)
        await ladder.segment("b", 5, 3.5, discontinuity=True)
        await ladder.until_listed("b", 5)
        assert ladder.history("b")[2:] == [(2, False, False), (3, True, False),
                                           (4, True, False), (5, False, True)]
        await ladder.segment("b", 11, 4.0, discontinuity=True)
        b = await ladder.until_listed("b", 11)
    assert [(e.seq, e.gap, e.discontinuity) for e in b.entries] == [(11, False, True)]


async def test_one_rung_gets_no_gaps(tmp_path: Path) -> None:
    async with serving(Ladder2(tmp_path, rungs=("a",))) as ladder:
        for seq in range(3):
            await ladder.segment("a", seq, float(seq))
        assert await ladder.step(100.0) == 0
        await ladder.segment("a", 5, 5.0, discontinuity=True)
        a = await ladder.until_listed("a", 5)
    assert [(e.seq, e.gap, e.discontinuity) for e in a.entries] == [(5, False, True)]


async def test_gaps_leaving_the_window_are_never_deleted(tmp_path: Path) -> None:
    """Segments and gaps slide out of b's window: the real ones are scheduled for deletion
    (after the §6.2.2 grace), the gaps never (no such file, here or in temp_dir)."""
    async with serving(Ladder2(tmp_path)) as ladder:
        await together(ladder, range(2))
        for seq in range(2, 8):
            await ladder.segment("a", seq, float(seq))
            await ladder.step(seq + 1.2)
        await together(ladder, range(8, 16), b_late=0.2)
        b = await ladder.until_listed("b", 15)
        assert b.media_sequence > 8
        pending = {name for _, name in ladder.dest.snapshot().retention.to_dict()["pending"]}
    gaps = {f"live_b-{n:05d}.ts" for n in range(2, 8)}
    assert {"live_b-00000.ts", "live_b-00001.ts"} <= pending | set(ladder.transfer.deleted)
    assert not gaps & (pending | set(ladder.transfer.deleted))


@pytest.mark.parametrize("fmp4", [False, True])
async def test_gap_names_follow_the_rung_s_own(tmp_path: Path, fmp4: bool) -> None:
    ladder = Ladder2(tmp_path)
    ext = ".m4s" if fmp4 else ".ts"
    for seq in range(2):
        for rung in ("a", "b"):
            ladder.clock.now = float(seq)
            path = ladder.work / rung / f"live_{rung}-{seq:05d}{ext}"
            path.write_bytes(b"x")
            assert ladder.filler.arrived(rung, SegmentReady(seq, str(path), 1.0, 0, 1, True),
                                         path) is not None
    ladder.clock.now = 1.0
    ladder.filler.arrived("a", SegmentReady(2, "x", 1.0, 0, 1, True), ladder.work / "a" / "x")
    ladder.clock.now = 3.0
    assert ladder.filler.list_due() == 1  # nothing drains the lanes: the gap waits there
    lane = list(ladder.dest.lanes["b"].items)
    assert [(s.name, s.gap) for s in lane][-1] == (f"live_b-00002{ext}", True)


async def test_a_gap_carries_the_ad_break_its_siblings_segment_opened(tmp_path: Path) -> None:
    """1. a and b produce 0..2; a break is asked for; a produces 3 (the break opens there)
    2. b is silent: its gap 3 lists the same DATERANGE line, before #EXT-X-GAP"""
    ladder = Ladder2(tmp_path)
    ladder.filler = ladder.intake.gaps = GapFiller(
        ladder.filler.progress, ladder.ladder, ladder.intake.timeline,
        ladder.intake.destinations, ladder.metrics, clock=ladder.clock,
        cues=ladder.intake.cues)
    async with serving(ladder):
        await together(ladder, range(3))
        ladder.intake.cues.breaks.cue("ad-1", 2.0)
        await ladder.segment("a", 3, 3.0)
        assert await ladder.step(4.1) == 1
        await ladder.until_listed("b", 3)
    a_lines = (ladder.www / "live_a.m3u8").read_text().splitlines()
    b_lines = (ladder.www / "live_b.m3u8").read_text().splitlines()
    (opening,) = [line for line in a_lines if line.startswith("#EXT-X-DATERANGE:")]
    assert 'ID="ad-1"' in opening and opening in b_lines
    assert b_lines.index(opening) < b_lines.index("#EXT-X-GAP")
