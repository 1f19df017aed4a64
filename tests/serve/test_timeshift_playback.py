"""hls.js in Chromium plays a time-shifted start (`live.m3u8?start=now-30`) and stays that
far behind the live edge, reloading the span with delta updates."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from hlsd.config import DEFAULT_HLS_JS
from tests.browser import browser_page, require_browser
from tests.daemon_util import lavfi_command, running, wait_for, write_config
from tests.serve.test_playback import origin_url
from tests.serve.test_timeshift_e2e import first_date, get, playlist

if TYPE_CHECKING:
    from playwright.async_api import Response

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

BEHIND = 30
SEGMENT = 1.0

# A bare page: hls.js playing `src`; `started` is when playback began (page clock, ms).
PLAY = """src => new Promise(resolve => {
  const video = document.createElement('video');
  video.muted = true;
  document.body.appendChild(video);
  const hls = new Hls();
  window.timeshift = {hls, video, asked: Date.now(), started: null};
  video.addEventListener('playing', () => {
    if (window.timeshift.started === null) window.timeshift.started = Date.now();
  });
  hls.loadSource(src);
  hls.attachMedia(video);
  hls.on(Hls.Events.MANIFEST_PARSED, () => { video.play(); resolve(); });
})"""
# How far behind the wall clock the picture is, by the PROGRAM-DATE-TIME hls.js plays.
LAG = """() => { const d = window.timeshift.hls.playingDate;
  return d ? (Date.now() - d.getTime()) / 1000 : null; }"""


async def test_hlsjs_plays_thirty_seconds_behind_live(tmp_path: Path) -> None:
    """1. A live rung of 1 s segments with dvr_window 60 runs until 34 s are kept.
    2. hls.js opens `live.m3u8?start=now-30` (the master carries the span to the variant).
    3. Once playing, its picture (PROGRAM-DATE-TIME of the position) is 30 s behind the
    wall clock, plus the time it took to start, within a segment; 4. and stays so for
    5 s (it does not jump to the live edge), while the live edge is within a segment of
    the wall clock; 5. meanwhile it reloads the span with delta updates (`_HLS_skip=YES`),
    answered, and keeps the whole span listed."""
    require_browser()
    config = write_config(
        tmp_path / "dvr.yaml", temp_dir=str(tmp_path / "work"), input_location="lavfi",
        live=True, segment_length=SEGMENT, dvr_window=60, encoding_profile="ep_a",
        transfer_profile="www", www={"transfer_type": "copy", "directory": str(tmp_path / "www")},
        http={"listen": "127.0.0.1", "port": 0},
        ep_a={"ffmpeg_command": lavfi_command(rate=25, extra="-g 25")})
    log = tmp_path / "hlsd.log"
    with running(config, log):
        base = wait_for(lambda: origin_url(log), 30, "the origin")
        variant = f"{base}live_ep_a.m3u8"
        wait_for(lambda: get(f"{variant}?start=now-3600")[0] == 200
                 and time.time() - first_date(playlist(f"{variant}?start=now-3600")) > 34,
                 70, "34 s kept")
        wait_for(lambda: get(f"{base}live.m3u8")[0] == 200, 10, "the master")
        async with browser_page(serve_hlsjs_at=DEFAULT_HLS_JS) as b:
            page = b.page
            deltas: list[int] = []  # statuses of the delta updates hls.js asked for

            def on_response(response: Response) -> None:
                if "_HLS_skip=YES" in response.url and "?start=" in response.url:
                    deltas.append(response.status)
            page.on("response", on_response)
            await page.goto(f"{base}stream.json")
            await page.add_script_tag(url=DEFAULT_HLS_JS)
            await page.evaluate(PLAY, f"{base}live.m3u8?start=now-{BEHIND}")
            await page.wait_for_function(
                "() => window.timeshift.started !== null && window.timeshift.hls.playingDate "
                "&& window.timeshift.video.currentTime > 0.5", timeout=20_000)
            startup = await page.evaluate(
                "() => (window.timeshift.started - window.timeshift.asked) / 1000")
            lags, asked = [], len(deltas)
            for _ in range(6):
                lags.append(await page.evaluate(LAG))
                await page.wait_for_timeout(1000)  # sampling at 1 Hz: the lag is the state
            # hls.js merged the deltas: its playlist still holds the whole span
            listed = await page.evaluate(
                "() => { const h = window.timeshift.hls;"
                " return h.levels[h.currentLevel].details.fragments.length; }")
            edge = playlist(variant).entries[-1]
            assert edge.program_date_time is not None
            edge_lag = time.time() - edge.program_date_time.timestamp() - edge.duration
        assert not b.errors, b.errors
    expected = BEHIND + startup
    assert all(lag is not None and abs(lag - expected) <= SEGMENT + 0.5 for lag in lags), (
        lags, expected)
    assert edge_lag <= SEGMENT + 0.5, edge_lag
    # it reloaded the span with delta updates (CAN-SKIP-UNTIL) while playing on
    assert len(deltas) > asked and set(deltas) == {200}, deltas
    assert listed >= BEHIND, listed
