"""The origin's types and cache rules for CMAF objects and AES-128 keys."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from hlsd.config import HttpSettings
from hlsd.serve.http import HttpOrigin
from tests.fixtures.status import StaticStatus


async def test_fmp4_objects_and_keys(tmp_path: Path) -> None:
    """1. an origin serving a CMAF segment, its init segment and a key under keys/
    2. segments and inits are media with long lifetimes; the key is never cached"""
    (tmp_path / "keys").mkdir()
    (tmp_path / "live_a-00001.m4s").write_bytes(b"seg")
    (tmp_path / "live_a-init-0a1b2c3d.mp4").write_bytes(b"init")
    (tmp_path / "keys" / "live-00000-0a1b2c3d.key").write_bytes(bytes(16))
    origin = HttpOrigin(HttpSettings(port=0), tmp_path, StaticStatus())
    await origin.start()
    try:
        async with aiohttp.ClientSession() as client:
            expected = {
                "live_a-00001.m4s": ("video/iso.segment", "max-age=31536000, immutable"),
                "live_a-init-0a1b2c3d.mp4": ("video/mp4", "max-age=31536000, immutable"),
                "keys/live-00000-0a1b2c3d.key": ("application/octet-stream",
                                                 "private, no-store"),
            }
            for name, (kind, cache) in expected.items():
                async with client.get(origin.url + name) as r:
                    assert r.status == 200, name
                    assert (r.headers["Content-Type"], r.headers["Cache-Control"]) == (
                        kind, cache), name
    finally:
        await origin.stop()


async def test_no_listing_and_bounded_requests(tmp_path: Path) -> None:
    """A folder is no listing, and an oversized request line or header is refused
    (aiohttp's limits), the origin going on serving."""
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.ts").write_bytes(b"x")
    (tmp_path / "live.m3u8").write_text("#EXTM3U\n")
    origin = HttpOrigin(HttpSettings(port=0), tmp_path, StaticStatus())
    await origin.start()
    try:
        async with aiohttp.ClientSession() as client:
            for path in ("sub", "sub/"):  # "/" is the player page, never a listing
                async with client.get(origin.url + path) as r:
                    assert r.status == 404, path
            async with client.get(origin.url + "x" * 20_000) as r:
                assert r.status in (400, 414), r.status
            async with client.get(origin.url + "live.m3u8",
                                  headers={"X-Big": "y" * 20_000}) as r:
                assert r.status in (400, 431), r.status
            async with client.get(origin.url + "live.m3u8") as r:
                assert r.status == 200
    finally:
        await origin.stop()
