"""The rung set with a real encoder and segmenter, publishing to a real copy destination
whose segment uploads the test holds back (the neighbour made slow on demand)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from hlsd import config as cfg
from hlsd.config import CopyProfile
from hlsd.encode.ffmpeg import find_ffmpeg
from hlsd.encode.rungs import Rungs
from hlsd.media.ladder import Ladder
from hlsd.publish.destination import Destination
from hlsd.publish.destinations import DestinationSet
from hlsd.publish.intake import Intake
from hlsd.publish.settings import PublishSettings
from hlsd.publish.transfer.copy import CopyTransfer
from hlsd.service.metrics import Metrics
from tests.daemon_util import lavfi_command, until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]


class HeldCopy(CopyTransfer):
    """The real copy backend; segment uploads wait until the test opens the gate."""

    def __init__(self, directory: Path) -> None:
        super().__init__(CopyProfile("held", directory))
        self.gate = asyncio.Event()

    async def put_segment(self, local: Path, name: str) -> None:
        await self.gate.wait()
        await super().put_segment(local, name)


async def test_restarting_a_rung_keeps_its_announced_segments(tmp_path: Path) -> None:
    """1. one live rung; its segments are announced but their uploads are held
    2. the rung is stopped and started again, as a reload that changed it does
    3. every announced segment file is still in temp_dir, and once the destination moves
       on, each is stored there and named by the playlist (none lost to the restart)"""
    ffmpeg = find_ffmpeg()
    assert ffmpeg is not None
    config = cfg.parse({
        "temp_dir": str(tmp_path / "work"), "input_location": "lavfi", "live": True,
        "segment_length": 1, "index_segment_count": 20, "encoding_profile": "ep",
        "transfer_profile": "www",
        "ep": {"ffmpeg_command": lavfi_command(size="160x90", audio=False)},
        "www": {"transfer_type": "copy", "directory": str(tmp_path / "www")}})
    config.temp_dir.mkdir()
    ladder, metrics = Ladder("live", 20), Metrics()
    ladder.set_rungs({"ep": None})
    transfer = HeldCopy(tmp_path / "www")
    dest = Destination(transfer, 2, PublishSettings(1, 20, 1.0, ""), ladder, metrics)
    destinations = DestinationSet(ladder, metrics, 1)
    destinations.include(dest)
    intake = Intake(config.temp_dir, ladder, destinations, metrics)
    rungs = Rungs(config, ffmpeg.path, intake, 0, config.max_segment_duration)
    async with asyncio.TaskGroup() as tg:
        runner = tg.create_task(dest.run())
        rungs.start(tg, list(config.encoding_profiles))
        await until(lambda: intake.segments >= 2, 30)
        await rungs.stop("ep")
        held = [seg.path for seg in dest.lanes["ep"].items]
        assert len(held) >= 2 and all(p.exists() for p in held)
        rungs.start(tg, list(config.encoding_profiles), restarted=True)
        before = intake.segments
        await until(lambda: intake.segments > before, 30)  # the new encoder is producing
        assert [p for p in held if not p.exists()] == [], "announced segments were deleted"
        transfer.gate.set()
        await until(lambda: all((tmp_path / "www" / p.name).exists() for p in held))
        await until(lambda: held[-1].name in dest.playlists["ep"].render())
        assert dest.skipped == 0
        await rungs.stop("ep")
        runner.cancel()
