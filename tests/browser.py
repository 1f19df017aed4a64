"""Headless Chromium with hls.js, for the player and end-to-end playback tests.

    require_browser()                      # skips the test if chromium/npm are missing
    js = hlsjs_path()                      # hls.min.js from `npm pack`, cached
    async with browser_page() as b:        # b.page is a Playwright Page
        await b.page.goto(origin.url)
        await wait_for_playback(b.page)

hls.js comes from the npm registry (`npm pack hls.js@1`) into a cache outside the
repository (HLSD_TEST_CACHE, else $XDG_CACHE_HOME/hlsd-test, else ~/.cache/hlsd-test);
HLSD_HLSJS may name a local hls.min.js instead (offline machines). The browser is the
system's Chromium (never `playwright install`). Pages may load only from loopback
addresses: any other request is aborted and recorded in `BrowserSession.blocked`,
so a test proves the page needs nothing from the internet.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest

if TYPE_CHECKING:
    from playwright.async_api import Page, Route

__all__ = ["BrowserSession", "browser_page", "hlsjs_path", "require_browser",
           "wait_for_playback"]

log = logging.getLogger("tests.browser")

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]
HLSJS_SPEC = "hls.js@1"
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


def cache_dir() -> Path:
    if env := os.environ.get("HLSD_TEST_CACHE"):
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "hlsd-test"


def require_browser() -> None:
    """Skip the calling test, with the reason, when Chromium or a way to get hls.js is missing."""
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        pytest.skip("the playwright Python package is not installed")
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    if (not os.environ.get("HLSD_HLSJS") and not _cached_hlsjs().exists()
            and shutil.which("npm") is None):
        pytest.skip("npm is needed to fetch hls.js (apt-get install npm), or set HLSD_HLSJS")


def _cached_hlsjs() -> Path:
    return cache_dir() / HLSJS_SPEC / "hls.min.js"


def hlsjs_path() -> Path:
    """A local hls.min.js: HLSD_HLSJS, else the cache, else fetched with `npm pack`."""
    if env := os.environ.get("HLSD_HLSJS"):
        return Path(env)
    return npm_file(HLSJS_SPEC, "dist/hls.min.js")


def npm_file(spec: str, path: str) -> Path:
    """One file of an npm package (`path` inside it), cached; fetched with `npm pack`."""
    target = cache_dir() / spec / Path(path).name
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        done = subprocess.run(
            ["npm", "pack", spec, "--json", "--pack-destination", tmp],
            capture_output=True, text=True, timeout=300, cwd=tmp, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"npm pack {spec} failed: {done.stderr.strip()}")
        tarball = Path(tmp) / json.loads(done.stdout)[0]["filename"]
        with tarfile.open(tarball) as tar:
            member = tar.extractfile(f"package/{path}")
            if member is None:
                raise RuntimeError(f"{tarball.name} has no {path}")
            partial = Path(tmp) / target.name
            partial.write_bytes(member.read())
        # rename: a concurrent test run sees the whole file or none
        partial.replace(target)
    return target


@dataclass
class BrowserSession:
    page: Page
    console: list[str] = field(default_factory=list)  # "type: text" of console messages
    errors: list[str] = field(default_factory=list)  # uncaught page exceptions
    blocked: list[str] = field(default_factory=list)  # non-loopback URLs refused


@asynccontextmanager
async def browser_page(*, serve_hlsjs_at: str | None = None,
                       viewport: tuple[int, int] = (1280, 800)
                       ) -> AsyncIterator[BrowserSession]:
    """A fresh headless Chromium page; closed (with the browser) on exit.

    `serve_hlsjs_at`: a URL (glob) whose requests are answered with the local hls.js,
    e.g. the public CDN URL, so a page configured with the default still works offline.
    """
    require_browser()
    from playwright.async_api import async_playwright

    hlsjs = hlsjs_path() if serve_hlsjs_at else None
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                           args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(
                viewport={"width": viewport[0], "height": viewport[1]})
            page = await context.new_page()
            session = BrowserSession(page)

            def on_console(msg: object) -> None:
                line = f"{getattr(msg, 'type', '?')}: {getattr(msg, 'text', msg)}"
                session.console.append(line)
                log.info("console %s", line)

            def on_error(exc: object) -> None:
                session.errors.append(str(exc))
                log.error("page error %s", exc)

            page.on("console", on_console)
            page.on("pageerror", on_error)

            async def only_loopback(route: Route) -> None:
                url = route.request.url
                if urlsplit(url).hostname in LOOPBACK or url.startswith(("data:", "blob:")):
                    await route.continue_()
                else:
                    session.blocked.append(url)
                    await route.abort()

            await context.route("**/*", only_loopback)
            if serve_hlsjs_at and hlsjs is not None:
                async def fulfil(route: Route) -> None:
                    await route.fulfill(path=hlsjs, content_type="application/javascript")
                await context.route(serve_hlsjs_at, fulfil)  # later routes are tried first
            yield session
        finally:
            await browser.close()


async def wait_for_playback(page: Page, seconds: float = 1.0, timeout_ms: int = 20_000) -> float:
    """Wait until the page's <video> has played past `seconds`; returns its currentTime."""
    await page.wait_for_function(
        "s => { const v = document.querySelector('video');"
        " return v && !v.paused && v.currentTime > s; }",
        arg=seconds, timeout=timeout_ms)
    return float(await page.evaluate("document.querySelector('video').currentTime"))
