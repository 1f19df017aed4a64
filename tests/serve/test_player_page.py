"""The player page shows the whole ladder, audio-only rung included, and stays readable
at a laptop's and a phone's width (headless Chromium, screenshots kept)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from hlsd.config import DEFAULT_HLS_JS
from tests.browser import browser_page, require_browser, wait_for_playback
from tests.daemon_util import FAST_X264, read, running, wait_for, write_config
from tests.serve.test_playback import origin_url, segment_count

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

# One live source for every rung (the shared encoder decodes it once).
SOURCE = ("ffmpeg -re -f lavfi -i testsrc2=size=480x270:rate=25 "
          "-re -f lavfi -i sine=frequency=440:sample_rate=48000")
RUNGS = {
    "ep_270p": f"-s 480x270 {FAST_X264} -b:v 500k -c:a aac -b:a 64k",
    "ep_180p": f"-s 320x180 {FAST_X264} -b:v 250k -c:a aac -b:a 48k",
    "ep_audio": "-vn -c:a aac -b:a 64k",
}
VIEWPORTS = {"laptop": (1280, 800), "phone": (390, 844)}

# Where the page's parts are, in CSS pixels, and how wide the document is.
LAYOUT = """() => {
  const box = (el) => { const r = el.getBoundingClientRect();
    return {left: r.left, right: r.right, top: r.top, bottom: r.bottom}; };
  const table = document.getElementById('levels');
  const scroller = table.closest('.scroll') || table;
  return {
    table: box(table), scroller: box(scroller),
    scrolls: scroller.scrollWidth > scroller.clientWidth,
    video: box(document.getElementById('video')),
    status: box(document.getElementById('status')),
    documentWidth: document.documentElement.scrollWidth,
  };
}"""


def ladder_config(tmp_path: Path) -> Path:
    commands = {name: f"{SOURCE} {options} -f mpegts -" for name, options in RUNGS.items()}
    return write_config(
        tmp_path / "ladder.yaml", temp_dir=str(tmp_path / "work"), input_location="lavfi",
        live=True, segment_length=1, index_segment_count=6, encoder_mode="shared",
        segment_format="ts", encoding_profile=list(commands), transfer_profile="www",
        www={"transfer_type": "copy", "directory": str(tmp_path / "www")},
        http={"listen": "127.0.0.1", "port": 0},
        **{name: {"ffmpeg_command": command} for name, command in commands.items()})


def overlaps(a: dict[str, float], b: dict[str, float]) -> bool:
    return (a["left"] < b["right"] and b["left"] < a["right"]
            and a["top"] < b["bottom"] and b["top"] < a["bottom"])


async def test_the_page_shows_every_rung_and_fits_a_laptop_and_a_phone(
        tmp_path: Path) -> None:
    """1. `hlsd run`: a live ladder of 2 video rungs (480x270, 320x180) and a 64k
       audio-only rung, 1 s segments, served by its own HTTP origin
    2. for a 1280x800 and a 390x844 viewport, Chromium opens the player page and plays:
       - the ladder table names all three rungs (from /info.json; hls.js itself leaves
         the audio-only rung out), marks the one hls.js plays and the audio-only
         fallback, and the status counts them ("3 rungs: hls.js plays 2 video levels,
         not the audio-only fallback")
       - the table (or the box it scrolls in) lies inside the viewport's width, the page
         has no horizontal scroll, and neither the table nor the status overlaps the video
       - a screenshot of the whole page is saved (player-laptop.png, player-phone.png)
    """
    require_browser()
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed")
    www, log = tmp_path / "www", tmp_path / "hlsd.log"
    with running(ladder_config(tmp_path), log):
        url = wait_for(lambda: origin_url(log), 20, "the http origin")
        wait_for(lambda: all(segment_count(read(www / f"live_{rung}.m3u8")) >= 2
                             for rung in RUNGS) and (www / "live.m3u8").exists(),
                 30, "two segments per rung and the master")
        for label, (width, height) in VIEWPORTS.items():
            async with browser_page(serve_hlsjs_at=DEFAULT_HLS_JS,
                                    viewport=(width, height)) as b:
                page = b.page
                await page.goto(url)
                await wait_for_playback(page, seconds=0.5)
                # the ladder from /info.json, matched with what hls.js plays
                await page.wait_for_function(
                    "n => document.querySelectorAll('#levels tbody tr').length === n"
                    " && document.querySelector('#levels tr.current')", arg=len(RUNGS),
                    timeout=10_000)
                rows = await page.eval_on_selector_all(
                    "#levels tbody tr", "rows => rows.map(r => r.innerText)")
                for rung in RUNGS:
                    assert sum(rung in row for row in rows) == 1, (label, rung, rows)
                audio = next(row for row in rows if "ep_audio" in row)
                assert "audio only" in audio and "fallback" in audio, (label, audio)
                playing = await page.inner_text("#levels tr.current")
                assert "playing" in playing and "ep_audio" not in playing, (label, playing)
                status = await page.inner_text("#status")
                assert re.fullmatch(r"3 rungs: hls\.js plays 2 video levels, "
                                    r"not the audio-only fallback", status), (label, status)

                # the Playback panel filled in (its first tick) for the screenshot
                await page.wait_for_function(
                    "document.getElementById('buffer').textContent !== '–'", timeout=5_000)
                layout: dict[str, Any] = await page.evaluate(LAYOUT)
                box = layout["scroller"]
                assert box["left"] >= 0 and box["right"] <= width, (label, layout)
                if not layout["scrolls"]:  # it fits: the table itself is all in view
                    assert layout["table"]["right"] <= width, (label, layout)
                assert layout["documentWidth"] <= width, (label, layout)
                for part in ("table", "status"):
                    assert not overlaps(layout[part], layout["video"]), (label, part, layout)
                await page.screenshot(path=str(tmp_path / f"player-{label}.png"),
                                      full_page=True)
                assert b.blocked == [] and b.errors == [], (b.blocked, b.errors)
    for label in VIEWPORTS:
        assert (tmp_path / f"player-{label}.png").stat().st_size > 10_000
