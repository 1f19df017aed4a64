"""The HTTP origin, started for real on 127.0.0.1 and fetched over TCP."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from hlsd.config import DEFAULT_HLS_JS, HttpSettings
from hlsd.serve.hlsjs import HlsJs
from hlsd.serve.http import HttpOrigin, resolve_inside
from hlsd.service.health import HealthReport, evaluate
from hlsd.service.metrics import Metrics
from tests.browser import browser_page, hlsjs_path, require_browser, wait_for_playback

PLAYLIST = b"#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:4\n"
SEGMENT = b"\x47" + bytes(187)
SECRET = b"outside-the-served-directory"


@dataclass
class Status:
    """The daemon's StreamStatus, made of the test's own metrics, health and figures."""

    registry: Metrics
    report: Callable[[], HealthReport]
    figures: Callable[[], dict[str, Any]]

    def health(self) -> tuple[bool, dict[str, Any]]:
        report = self.report()
        return report.ok, report.to_json()

    def info(self) -> dict[str, Any]:
        return self.figures()

    def metrics(self) -> tuple[bytes, str]:
        return self.registry.render()


@dataclass
class Origin:
    http: HttpOrigin
    directory: Path
    metrics: Metrics
    last: dict[str, float | None]  # the rungs' newest segment times, as the daemon keeps them
    clock: list[float]
    info: dict[str, Any]

    def url(self, path: str) -> str:
        return self.http.url + path.lstrip("/")


@pytest.fixture
async def origin(tmp_path: Path) -> AsyncIterator[Origin]:
    served = tmp_path / "www"
    served.mkdir()
    (served / "live.m3u8").write_bytes(PLAYLIST)
    (served / "live_ep_720p-00001.ts").write_bytes(SEGMENT)
    (served / "sub").mkdir()
    (served / "sub" / "a.ts").write_bytes(SEGMENT)
    (served / ".live.m3u8.tmp").write_bytes(PLAYLIST)  # a publisher's file mid-rename
    (served / "notes.txt").write_text("plain")
    (tmp_path / "secret.txt").write_bytes(SECRET)
    (served / "escape.ts").symlink_to(tmp_path / "secret.txt")
    (served / "escapedir").symlink_to(tmp_path)
    (served / "alias.ts").symlink_to("live_ep_720p-00001.ts")  # inside: allowed

    metrics = Metrics()
    metrics.segment("ep_720p", 4.0, len(SEGMENT))
    last: dict[str, float | None] = {"ep_720p": 100.0, "ep_360p": 100.0}
    clock = [101.0]
    info: dict[str, Any] = {"master": "live.m3u8", "rungs": {"ep_720p": {"segments": 1}}}

    def health() -> HealthReport:
        return evaluate(last, now=clock[0], max_age=12.0, started=90.0)

    http = HttpOrigin(HttpSettings(listen="127.0.0.1", port=0), served,
                      Status(metrics, health, lambda: info))
    await http.start()
    try:
        yield Origin(http, served, metrics, last, clock, info)
    finally:
        await http.stop()


async def raw_get(port: int, target: str, method: str = "GET") -> tuple[int, bytes]:
    """Send `target` byte for byte (an HTTP client library would normalise '..' away)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"{method} {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                 .encode())
    await writer.drain()
    data = await reader.read()
    writer.close()
    await writer.wait_closed()
    status = int(data.split(b" ", 2)[1])
    return status, data


async def test_binds_an_ephemeral_loopback_port(origin: Origin) -> None:
    assert origin.http.port > 0
    assert origin.http.url == f"http://127.0.0.1:{origin.http.port}/"


async def test_playlists_and_segments_have_hls_types_and_cache_rules(origin: Origin) -> None:
    async with aiohttp.ClientSession() as client:
        async with client.get(origin.url("live.m3u8")) as r:
            assert r.status == 200
            assert r.headers["Content-Type"] == "application/vnd.apple.mpegurl"
            assert r.headers["Cache-Control"] == "max-age=1"
            assert r.headers["Access-Control-Allow-Origin"] == "*"
            assert await r.read() == PLAYLIST
        async with client.get(origin.url("live_ep_720p-00001.ts")) as r:
            assert r.status == 200
            assert r.headers["Content-Type"] == "video/mp2t"
            assert r.headers["Cache-Control"] == "max-age=31536000, immutable"
            assert r.headers["Access-Control-Allow-Origin"] == "*"
            assert await r.read() == SEGMENT
        async with client.get(origin.url("sub/a.ts")) as r:
            assert r.status == 200 and await r.read() == SEGMENT
        async with client.get(origin.url("alias.ts")) as r:  # symlink within the directory
            assert r.status == 200 and await r.read() == SEGMENT
        async with client.get(origin.url("notes.txt")) as r:
            assert r.status == 200
            assert r.headers["Content-Type"].startswith("text/plain")
            assert "immutable" not in r.headers.get("Cache-Control", "")


async def test_head_has_the_headers_and_no_body(origin: Origin) -> None:
    async with aiohttp.ClientSession() as client, \
            client.head(origin.url("live_ep_720p-00001.ts")) as r:
        assert r.status == 200
        assert r.headers["Content-Type"] == "video/mp2t"
        assert int(r.headers["Content-Length"]) == len(SEGMENT)
        assert await r.read() == b""
    status, raw = await raw_get(origin.http.port, "/live.m3u8", method="HEAD")
    assert status == 200 and raw.endswith(b"\r\n\r\n")


async def test_a_playlist_replaced_by_rename_is_served_fresh(origin: Origin) -> None:
    """1. fetch, 2. the publisher renames a new version into place, 3. fetch: the new one."""
    async with aiohttp.ClientSession() as client:
        async with client.get(origin.url("live.m3u8")) as r:
            assert await r.read() == PLAYLIST
        tmp = origin.directory / ".live.m3u8.next"
        tmp.write_bytes(PLAYLIST + b"#EXTINF:4.0,\nlive_ep_720p-00001.ts\n")
        tmp.replace(origin.directory / "live.m3u8")
        async with client.get(origin.url("live.m3u8")) as r:
            assert (await r.read()).endswith(b"live_ep_720p-00001.ts\n")


@pytest.mark.parametrize("target", [
    "/missing.ts", "/sub", "/sub/", "/.live.m3u8.tmp", "/sub/missing.m3u8",
])
async def test_missing_directories_and_hidden_files_are_404(origin: Origin,
                                                            target: str) -> None:
    status, _ = await raw_get(origin.http.port, target)
    assert status == 404


@pytest.mark.parametrize("target", [
    "/../secret.txt", "/%2e%2e/secret.txt", "/%2E%2E%2Fsecret.txt", "/sub/../../secret.txt",
    "/sub/%2e%2e/%2e%2e/secret.txt", "/..%5csecret.txt", "//etc/passwd", "/../etc/passwd",
    "/%2e%2e/%2e%2e/%2e%2e/etc/passwd", "/escape.ts", "/escapedir/secret.txt",
    "/./live.m3u8/../../secret.txt", "/%00secret.txt",
])
async def test_traversal_is_refused(origin: Origin, target: str) -> None:
    status, raw = await raw_get(origin.http.port, target)
    assert status == 404, raw[:200]
    assert SECRET not in raw and b"root:" not in raw


def test_resolve_inside(tmp_path: Path) -> None:
    (tmp_path / "www" / "sub").mkdir(parents=True)
    (tmp_path / "www" / "sub" / "a.ts").write_bytes(SEGMENT)
    (tmp_path / "secret.txt").write_bytes(SECRET)
    (tmp_path / "www" / "out.ts").symlink_to(tmp_path / "secret.txt")
    (tmp_path / "www" / "loop.ts").symlink_to("loop.ts")
    root = tmp_path / "www"
    assert resolve_inside(root, "sub/a.ts") == (root / "sub" / "a.ts").resolve()
    for rel in ["../secret.txt", "sub/../../secret.txt", "/etc/passwd", "sub//a.ts", "sub",
                "out.ts", "loop.ts", "./sub/a.ts", "sub\\..\\..\\secret.txt", "a\0b",
                str(tmp_path / "secret.txt"), ""]:
        assert resolve_inside(root, rel) is None, rel


async def test_no_directory_serves_no_files(origin: Origin) -> None:
    bare = HttpOrigin(HttpSettings(port=0), None,
                      Status(Metrics(), lambda: evaluate({}, 0, 1, 0), lambda: {}))
    await bare.start()
    try:
        assert (await raw_get(bare.port, "/live.m3u8"))[0] == 404
        assert (await raw_get(bare.port, "/metrics"))[0] == 200
    finally:
        await bare.stop()


async def test_metrics_endpoint_parses(origin: Origin) -> None:
    async with aiohttp.ClientSession() as client, client.get(origin.url("metrics")) as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/plain")
        text = await r.text()
    samples = {(s.name, tuple(s.labels.items())): s.value
               for f in text_string_to_metric_families(text) for s in f.samples}
    assert samples[("hlsd_segments_total", (("rung", "ep_720p"),))] == 1


async def test_healthz_200_then_503_naming_the_stale_rung(origin: Origin) -> None:
    """1. both rungs fresh: 200, 2. ep_720p keeps cutting, ep_360p stops: 503 naming it."""
    async with aiohttp.ClientSession() as client:
        async with client.get(origin.url("healthz")) as r:
            assert r.status == 200
            body = await r.json()
            assert body["status"] == "ok"
            assert r.headers["Cache-Control"] == "no-store"
        origin.clock[0] = 120.0
        origin.last["ep_720p"] = 118.0
        async with client.get(origin.url("healthz")) as r:
            assert r.status == 503
            body = await r.json()
            assert body["stale"] == ["ep_360p"]
            assert "ep_360p" in body["message"]


async def test_info_json_is_what_the_daemon_reports(origin: Origin) -> None:
    async with aiohttp.ClientSession() as client:
        async with client.get(origin.url("info.json")) as r:
            assert r.status == 200
            assert await r.json() == origin.info
        origin.info["rungs"]["ep_720p"]["segments"] = 2
        async with client.get(origin.url("info.json")) as r:
            assert (await r.json())["rungs"]["ep_720p"]["segments"] == 2


async def test_player_page_carries_escaped_settings(origin: Origin) -> None:
    origin.info["master"] = 'x"><script>alert(1)</script>.m3u8'
    async with aiohttp.ClientSession() as client, client.get(origin.url("/")) as r:
        assert r.status == 200
        assert r.headers["Content-Type"] == "text/html; charset=utf-8"
        page = await r.text()
    assert f'<script src="{DEFAULT_HLS_JS}"></script>' in page
    assert "<script>alert(1)" not in page
    assert 'data-master="x&quot;&gt;&lt;script&gt;' in page
    assert "{{" not in page


async def test_player_page_plays_ll_hls_when_the_stream_is(origin: Origin) -> None:
    """What /info.json says about LL-HLS rides on the page itself, so hls.js is created
    in lowLatencyMode at once, without a round trip first."""
    async with aiohttp.ClientSession() as client:
        async with client.get(origin.url("/")) as r:
            assert 'data-part-target=""' in await r.text()
        origin.info.update(low_latency=True, part_target=0.33)
        async with client.get(origin.url("/")) as r:
            assert 'data-part-target="0.33"' in await r.text()
        origin.info.update(low_latency=False)
        async with client.get(origin.url("/")) as r:
            assert 'data-part-target=""' in await r.text()


def make_stream(directory: Path) -> None:
    """A 6 s, two-level VOD HLS stream made by ffmpeg (master: live.m3u8)."""
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25", "-t", "6",
         "-map", "0:v", "-map", "0:v", "-c:v", "libx264", "-preset", "ultrafast",
         "-pix_fmt", "yuv420p", "-g", "25", "-keyint_min", "25", "-sc_threshold", "0",
         "-s:v:0", "320x180", "-b:v:0", "400k", "-s:v:1", "160x90", "-b:v:1", "120k",
         "-f", "hls", "-hls_time", "1", "-hls_playlist_type", "vod",
         "-master_pl_name", "live.m3u8", "-var_stream_map", "v:0 v:1",
         "-hls_segment_filename", str(directory / "live_%v-%03d.ts"),
         str(directory / "live_%v.m3u8")],
        check=True, timeout=60)


@pytest.mark.browser
@pytest.mark.e2e
async def test_player_plays_a_stream_in_chromium(tmp_path: Path) -> None:
    """1. ffmpeg writes a two-level stream, 2. HttpOrigin serves it with a local hls.js
    (npm's hls.min.js at /hls.min.js), 3. Chromium opens the player: the video plays, the
    page says "hls.js: local (<version>)", the ladder and live figures show, a click on a
    ladder level switches to it, 4. a second origin with the default (CDN) hls.js URL
    plays too, that URL answered locally, and says "hls.js: CDN"; its admin routes are on
    an admin listener of their own, and the page's ladder and health come all the same
    (from /stream.json), 5. nothing was requested from outside 127.0.0.1, 6. a screenshot
    is saved."""
    require_browser()
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed")
    served = tmp_path / "www"
    served.mkdir()
    make_stream(served)
    info = {"master": "live.m3u8", "rungs": {"v0": {"segments": 6}, "v1": {"segments": 6}},
            "uptime": 12.5}
    local = HttpOrigin(HttpSettings(port=0), served,
                       Status(Metrics(), lambda: evaluate({}, 0, 1, 0), lambda: info),
                       HlsJs("hls.min.js", hlsjs_path()))
    cdn = HttpOrigin(HttpSettings(port=0, admin_listen="127.0.0.1", admin_port=0), served,
                     Status(Metrics(), lambda: evaluate({}, 0, 1, 0), lambda: info))
    await local.start()
    await cdn.start()
    try:
        async with browser_page(serve_hlsjs_at=DEFAULT_HLS_JS) as b:
            await b.page.goto(local.url)
            assert await wait_for_playback(b.page, seconds=1.0) > 1.0
            assert re.fullmatch(r"hls\.js: local \(1\.\d+\.\d+.*\)",
                                await b.page.inner_text("#hlsjs"))
            await b.page.wait_for_function(
                "document.querySelectorAll('#levels tbody tr').length === 2")
            await b.page.wait_for_function(
                "document.getElementById('info').textContent.includes('v1')")
            await b.page.wait_for_function(
                "document.getElementById('current-level').textContent !== '–'")
            ladder = await b.page.inner_text("#levels")
            assert "320×180" in ladder and "160×90" in ladder
            assert (await b.page.inner_text("#health")) == "healthy"
            await b.page.click("#levels tbody tr:nth-child(1) button")
            await b.page.wait_for_function(
                "document.getElementById('current-level').textContent.startsWith('0 (')")
            await b.page.screenshot(path=str(tmp_path / "player.png"))

            await b.page.goto(cdn.url)
            assert await wait_for_playback(b.page, seconds=0.5) > 0.5
            assert (await b.page.inner_text("#hlsjs")).startswith("hls.js: CDN (1.")
            await b.page.wait_for_function(
                "document.querySelectorAll('#levels tbody tr').length === 2")
            await b.page.wait_for_function(
                "document.getElementById('health').textContent === 'healthy'")
            assert b.blocked == []
            assert b.errors == []
    finally:
        await local.stop()
        await cdn.stop()
    assert (tmp_path / "player.png").stat().st_size > 0
