"""The copy destination's writes: every version of a file lands whole, even when two
writers (a destination and the one a reload put in its place) write the same name."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from hlsd.config import CopyProfile
from hlsd.publish.transfer import copy


async def test_concurrent_writers_of_one_name_each_land_whole(tmp_path: Path) -> None:
    directory = tmp_path / "www"
    writers = [copy.CopyTransfer(CopyProfile(name="www", directory=directory))
               for _ in range(2)]
    await writers[0].open()
    versions = [f"#EXTM3U\n# version {i}\n{'x' * (i * 37 % 900)}\n".encode()
                for i in range(60)]
    local = tmp_path / "seg.ts"
    local.write_bytes(b"\x47" * 188 * 50)
    await asyncio.gather(
        *(writers[i % 2].put_playlist(data, "live.m3u8") for i, data in enumerate(versions)),
        *(writers[i % 2].put_segment(local, "live-00001.ts") for i in range(20)))
    assert (directory / "live.m3u8").read_bytes() in versions  # one whole version
    assert (directory / "live-00001.ts").read_bytes() == local.read_bytes()
    assert sorted(p.name for p in directory.iterdir()) == ["live-00001.ts", "live.m3u8"]
    for writer in writers:
        await writer.close()


async def test_open_sweeps_only_stale_temporary_files(tmp_path: Path) -> None:
    directory = tmp_path / "www"
    directory.mkdir()
    stale, fresh = directory / ".live.m3u8.0a1b2c3d.tmp", directory / ".live.m3u8.ffff.tmp"
    stale.write_text("left by a crash")
    fresh.write_text("being written")
    old = time.time() - copy.STALE_TMP - 60
    os.utime(stale, (old, old))
    transfer = copy.CopyTransfer(CopyProfile(name="www", directory=directory))
    await transfer.open()
    assert not stale.exists() and fresh.exists()
    await transfer.close()
