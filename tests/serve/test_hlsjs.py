"""hls.js for the player page: a local copy served by the origin when there is one (found
in a fixed order), the CDN otherwise, and the page says which."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from hlsd import config as cfg
from hlsd.cli import EXIT_CONFIG, main
from hlsd.config import DEFAULT_HLS_JS, HttpSettings
from hlsd.demo import demo_config
from hlsd.serve.hlsjs import ENV, HlsJs, choose_hls_js, well_known_places
from hlsd.serve.http import HttpOrigin
from hlsd.serve.origin import Origin
from hlsd.service.health import evaluate
from hlsd.service.metrics import Metrics
from tests.serve.test_http import Status

SCRIPT = b"/* hls.js stand-in */ var Hls = {};\n"


def status() -> Status:
    return Status(Metrics(), lambda: evaluate({}, 0, 1, 0), lambda: {"master": "live.m3u8"})


@pytest.fixture
def copies(tmp_path: Path) -> dict[str, Path]:
    found = {}
    for name in ("configured", "env", "share", "system"):
        found[name] = tmp_path / name / "hls.min.js"
        found[name].parent.mkdir()
        found[name].write_bytes(SCRIPT)
    return found


def test_the_first_local_copy_found_wins(copies: dict[str, Path], tmp_path: Path) -> None:
    places = [copies["share"], copies["system"]]
    env = {ENV: str(copies["env"])}
    configured = HttpSettings(hls_js_path=copies["configured"])
    assert choose_hls_js(configured, env, places) == HlsJs("hls.min.js", copies["configured"])
    assert choose_hls_js(HttpSettings(), env, places).local == copies["env"]
    assert choose_hls_js(HttpSettings(), {}, places).local == copies["share"]
    copies["share"].unlink()
    assert choose_hls_js(HttpSettings(), {ENV: str(tmp_path / "nothing")},
                         places).local == copies["system"]
    assert choose_hls_js(HttpSettings(), {ENV: "a\0b"}, [tmp_path]) == HlsJs(DEFAULT_HLS_JS)
    mirror = HttpSettings(hls_js_url="https://mirror.example/hls.js")
    assert choose_hls_js(mirror, {}, []).url == "https://mirror.example/hls.js"
    assert choose_hls_js(mirror, {}, []).source == "CDN"


def test_well_known_places_start_with_the_installations_share_directory() -> None:
    assert well_known_places("/opt/venv")[0] == Path("/opt/venv/share/hlsd/hls.min.js")


async def page_and_script(http: HttpOrigin) -> tuple[str, aiohttp.ClientResponse, bytes]:
    async with aiohttp.ClientSession() as client:
        async with client.get(http.url) as r:
            page = await r.text()
        async with client.get(http.url + "hls.min.js") as r:
            return page, r, await r.read()


async def test_the_origin_serves_a_local_copy_and_the_page_says_so(
        copies: dict[str, Path], tmp_path: Path) -> None:
    www = tmp_path / "www"
    www.mkdir()
    local = HttpOrigin(HttpSettings(port=0), www, status(),
                       HlsJs("hls.min.js", copies["share"]))
    await local.start()
    try:
        page, r, body = await page_and_script(local)
    finally:
        await local.stop()
    assert r.status == 200 and body == SCRIPT
    assert r.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert r.headers["Cache-Control"] == "public, max-age=86400"
    assert '<script src="hls.min.js"></script>' in page
    assert '<span id="hlsjs">hls.js: local</span>' in page
    assert DEFAULT_HLS_JS not in page


async def test_without_a_local_copy_the_page_loads_the_cdn_and_says_so(tmp_path: Path) -> None:
    www = tmp_path / "www"
    www.mkdir()
    cdn = HttpOrigin(HttpSettings(port=0), www, status())
    await cdn.start()
    try:
        page, r, _ = await page_and_script(cdn)
    finally:
        await cdn.stop()
    assert r.status == 404
    assert f'<script src="{DEFAULT_HLS_JS}"></script>' in page
    assert '<span id="hlsjs">hls.js: CDN</span>' in page


async def test_the_daemons_origin_uses_http_hls_js_path(copies: dict[str, Path],
                                                        tmp_path: Path) -> None:
    config = cfg.parse({
        "temp_dir": str(tmp_path / "work"), "input_location": "lavfi",
        "encoding_profile": "e", "transfer_profile": "www",
        "e": {"ffmpeg_command": "ffmpeg -f lavfi -i testsrc2 -c:v libx264 -f mpegts -"},
        "www": {"transfer_type": "copy", "directory": str(tmp_path / "www")},
        "http": {"port": 0, "hls_js_path": str(copies["configured"])}})
    origin = Origin(status())
    await origin.start(config)
    try:
        assert origin.http is not None
        page, _, body = await page_and_script(origin.http)
    finally:
        await origin.stop()
    assert body == SCRIPT and "hls.js: local" in page


def test_demo_takes_a_local_hls_js(copies: dict[str, Path], tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    config = demo_config(tmp_path / "demo", port=0, hls_js_path=copies["share"])
    assert config.http is not None and config.http.hls_js_path == copies["share"]
    missing = str(tmp_path / "missing.js")
    assert main(["demo", "--dir", str(tmp_path / "d"), "--hls-js-path", missing]) == EXIT_CONFIG
    assert "http.hls_js_path" in capsys.readouterr().err
