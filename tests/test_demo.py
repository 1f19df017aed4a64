"""`hlsd demo` end to end: the printed URL plays the test-pattern ladder in Chromium."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

from tests.browser import browser_page, hlsjs_path, require_browser
from tests.daemon_util import descendants, hlsd_argv, process_name

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

PLAY_WITHIN = 30.0  # seconds from `hlsd demo` to a playing video, as the issue promises
URL_LINE = re.compile(r"hlsd demo: open (http://\S+) in a browser")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def demo(argv: list[str], log: Path) -> Iterator[tuple[subprocess.Popen[bytes], list[str]]]:
    """`hlsd demo` with its stderr collected line by line (the URL is printed there)."""
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.PIPE)
    lines: list[str] = []

    def collect() -> None:
        assert proc.stderr is not None
        for raw in proc.stderr:
            lines.append(raw.decode(errors="replace"))

    reader = threading.Thread(target=collect, daemon=True)
    reader.start()
    try:
        yield proc, lines
    finally:
        if proc.poll() is None:
            for child in descendants(proc.pid):
                with suppress(ProcessLookupError):
                    os.kill(child, signal.SIGKILL)
            proc.kill()
            proc.wait()
        reader.join(timeout=5)


async def test_demo_plays_the_ladder_in_chromium(tmp_path: Path) -> None:
    """1. `hlsd demo --port P --dir D --hls-js-path <npm's hls.min.js>`: the URL appears on
       stderr
    2. headless Chromium opens it: the page says it runs the local hls.js, hls.js sees the
       ladder (>= 2 levels) and the video plays (currentTime advances) within 30 s of the
       start; nothing is fetched off-machine
    3. a screenshot is saved in the test's directory
    4. Ctrl-C (SIGINT): exit 0 within a few seconds, no ffmpeg left behind
    """
    require_browser()
    vendor = tmp_path / "vendor"
    vendor.mkdir()
    shutil.copy(hlsjs_path(), vendor / "hls.min.js")
    port = free_port()
    with demo(hlsd_argv("demo", "--port", str(port), "--dir", str(tmp_path / "demo"),
                        "--hls-js-path", str(vendor / "hls.min.js")),
              tmp_path / "demo.log") as (proc, stderr):
        started = time.monotonic()

        def deadline_ms() -> int:
            return max(1, int((PLAY_WITHIN - (time.monotonic() - started)) * 1000))

        url = None
        while url is None and time.monotonic() - started < PLAY_WITHIN:
            assert proc.poll() is None, "".join(stderr)
            url = next((m.group(1) for line in list(stderr)
                        if (m := URL_LINE.search(line))), None)
            await asyncio.sleep(0.1)  # polling the collected stderr, with a deadline
        assert url == f"http://127.0.0.1:{port}/", "".join(stderr)

        async with browser_page() as browser:
            page = browser.page
            await page.goto(url)
            await page.wait_for_function(
                "() => { const v = document.querySelector('video');"
                " return v && !v.paused && v.currentTime > 0.5; }", timeout=deadline_ms())
            played_at = time.monotonic() - started
            assert (await page.inner_text("#hlsjs")).startswith("hls.js: local (1.")
            first = float(await page.evaluate("document.querySelector('video').currentTime"))
            # still advancing, not a single decoded frame
            await page.wait_for_function(
                "t => document.querySelector('video').currentTime > t + 1.0", arg=first,
                timeout=15_000)
            levels = await page.evaluate(
                "window.hlsd.levels.map(l => ({height: l.height, bitrate: l.bitrate}))")
            assert len(levels) >= 2, levels
            assert len({lv["height"] for lv in levels}) >= 2, levels
            shot = tmp_path / "demo-player.png"
            await page.screenshot(path=str(shot), full_page=True)
            print(f"screenshot: {shot} (playing after {played_at:.1f} s)")
            assert browser.blocked == [], browser.blocked
            assert browser.errors == [], browser.errors
        assert shot.stat().st_size > 10_000

        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=15) == 0, "".join(stderr)
    assert not [p for p in descendants(os.getpid()) if process_name(p) == "ffmpeg"]
