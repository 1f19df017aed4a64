"""The master and the steering manifest at a destination (hlsd.publish.master), against the
real copy backend: the manifest is stored before the master that names it, each only when
its text changed, and a reload's new pathways reach both."""

from __future__ import annotations

import json
from pathlib import Path

from hlsd.config import CopyProfile, Pathway
from hlsd.publish.destination import Destination
from hlsd.publish.settings import PublishSettings
from hlsd.publish.transfer.copy import CopyTransfer
from tests.daemon_util import until
from tests.publish.test_destination import ladder, make_segment, serving

A = Pathway("a", "https://a.example.com/live/")
B = Pathway("b", "https://b.example.com/live/")


class RecordingCopy(CopyTransfer):
    """The real copy backend, remembering which playlists were stored, in order."""

    def __init__(self, directory: Path) -> None:
        super().__init__(CopyProfile("www", directory))
        self.stored: list[str] = []

    async def put_playlist(self, data: bytes, name: str) -> None:
        await super().put_playlist(data, name)
        self.stored.append(name)


def masters(transfer: RecordingCopy) -> list[str]:
    return [n for n in transfer.stored if n in ("live.m3u8", "live-steering.json")]


async def test_manifest_before_master_only_on_change_and_after_a_reload(tmp_path: Path) -> None:
    """1. two rungs, pathways a and b: the manifest, then the master naming it
    2. more segments: the master's text is the same, nothing stored again
    3. the priority reversed (a reload): manifest then master again, both say b first
    4. pathways removed: the master alone, without the steering tag"""
    work, www = tmp_path / "work", tmp_path / "www"
    work.mkdir()
    lad = ladder("x", "y")
    lad.set_pathways([A, B])
    transfer = RecordingCopy(www)
    dest = Destination(transfer, 2, PublishSettings(2, 4, 2.0, ""), lad)
    seq = 0

    def offer_both() -> None:
        nonlocal seq
        for rung in ("x", "y"):
            dest.offer(make_segment(work, rung, seq, 2.0))
        seq += 1

    def listed(rung: str, upto: int) -> bool:
        path = www / f"live_{rung}.m3u8"
        return path.exists() and f"live_{rung}-{upto:05d}.ts" in path.read_text()

    async with serving(dest):
        offer_both()
        await until(lambda: (www / "live.m3u8").exists())
        assert masters(transfer) == ["live-steering.json", "live.m3u8"]
        manifest = json.loads((www / "live-steering.json").read_text())
        assert manifest["PATHWAY-PRIORITY"] == ["a", "b"]
        assert manifest["RELOAD-URI"] == "live-steering.json" and manifest["VERSION"] == 1
        master = (www / "live.m3u8").read_text()
        assert '#EXT-X-CONTENT-STEERING:SERVER-URI="live-steering.json",PATHWAY-ID="a"' \
            in master
        assert "https://a.example.com/live/live_x.m3u8" in master
        assert "https://b.example.com/live/live_y.m3u8" in master

        offer_both()
        await until(lambda: listed("x", 1) and listed("y", 1))
        assert masters(transfer) == ["live-steering.json", "live.m3u8"]

        lad.set_pathways([B, A])
        offer_both()
        await until(lambda: len(masters(transfer)) == 4)
        assert masters(transfer)[2:] == ["live-steering.json", "live.m3u8"]
        assert json.loads((www / "live-steering.json").read_text())["PATHWAY-PRIORITY"] == \
            ["b", "a"]
        assert 'PATHWAY-ID="b"\n' in (www / "live.m3u8").read_text()

        lad.set_pathways([])
        offer_both()
        await until(lambda: len(masters(transfer)) == 5)
        assert masters(transfer)[4:] == ["live.m3u8"]
        assert "PATHWAY-ID" not in (www / "live.m3u8").read_text()
