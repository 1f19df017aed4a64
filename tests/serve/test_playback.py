"""A live ladder played end to end: `hlsd run` → its HTTP origin → hls.js in Chromium."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from hlsd.config import DEFAULT_HLS_JS
from tests.browser import browser_page, require_browser, wait_for_playback
from tests.daemon_util import (
    FAST_X264,
    descendants,
    process_name,
    read,
    running,
    wait_for,
    write_config,
)
from tests.hlscheck import parse_media_text

pytestmark = pytest.mark.e2e

if TYPE_CHECKING:
    from playwright.async_api import Page

# One live source for every rung (shared decode needs identical inputs); the rungs
# differ in size only, so a level switch shows as a change of the video's resolution.
SOURCE = ("ffmpeg -re -f lavfi -i testsrc2=size=480x270:rate=25 "
          "-re -f lavfi -i sine=frequency=440:sample_rate=48000")
RUNGS = {
    "ep_270p": ((480, 270), f"-s 480x270 {FAST_X264} -b:v 500k -c:a aac -b:a 64k"),
    "ep_180p": ((320, 180), f"-s 320x180 {FAST_X264} -b:v 250k -c:a aac -b:a 48k"),
}
AUDIO = "-vn -c:a aac -b:a 64k"

# Samples (wall seconds, currentTime, videoWidth, videoHeight) of the page's <video>.
START_SAMPLING = """() => {
  const v = document.querySelector('video');
  window.__samples = [];
  clearInterval(window.__sampler);
  window.__sampler = setInterval(() => window.__samples.push(
    [performance.now() / 1000, v.currentTime, v.videoWidth, v.videoHeight]), 100);
}"""
SAMPLED_FOR = """s => window.__samples.length > 1 &&
  window.__samples[window.__samples.length - 1][0] - window.__samples[0][0] >= s"""


def ladder_config(tmp_path: Path, mode: str, segment_format: str = "ts",
                  encrypted: bool = False) -> Path:
    commands = {name: f"{SOURCE} {options} -f mpegts -" for name, (_, options) in RUNGS.items()}
    commands["ep_audio"] = f"{SOURCE} {AUDIO} -f mpegts -"
    extra: dict[str, Any] = {}
    if encrypted:  # keys in their own destination, which the origin serves under keys/
        extra = {"encryption": {"key_rotation": 2, "key_url_prefix": "keys/",
                                "key_transfer_profile": "keys"},
                 "keys": {"transfer_type": "copy", "directory": str(tmp_path / "www" / "keys")}}
    return write_config(
        tmp_path / "ladder.yaml", temp_dir=str(tmp_path / "work"), input_location="lavfi",
        live=True, segment_length=1, index_segment_count=6, encoder_mode=mode,
        segment_format=segment_format, encoding_profile=list(commands), transfer_profile="www",
        www={"transfer_type": "copy", "directory": str(tmp_path / "www")},
        http={"listen": "127.0.0.1", "port": 0}, **extra,
        **{name: {"ffmpeg_command": command} for name, command in commands.items()})


def origin_url(log: Path) -> str | None:
    """The URL from the daemon's `http origin listening` JSON log line, once it is there."""
    for line in (read(log) or "").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("event") == "http origin listening":
            return str(entry["url"])
    return None


def segment_count(playlist: str | None) -> int:
    return sum(line.startswith("#EXTINF") for line in (playlist or "").splitlines())


def key_uris(playlist: str | None) -> set[str]:
    return {line.split('URI="')[1].split('"')[0] for line in (playlist or "").splitlines()
            if line.startswith("#EXT-X-KEY:METHOD=AES-128")}


async def sample_playback(page: Page, seconds: float) -> list[list[float]]:
    """currentTime and the picture size every 100 ms for `seconds` of wall time."""
    await page.evaluate(START_SAMPLING)
    await page.wait_for_function(SAMPLED_FOR, arg=seconds, timeout=(seconds + 10) * 1000)
    samples: list[list[float]] = await page.evaluate("window.__samples")
    return samples


# Long enough that one sub-second wait at the live edge (a loaded 2-core machine) does not
# decide the rate; stalls are judged separately, sample by sample.
STEADY_WINDOW = 6.0


def durations(playlist: str | None) -> dict[int, float]:
    """Media sequence number -> EXTINF of every segment a variant playlist lists."""
    return {s.msn: s.duration for s in parse_media_text(playlist).segments} if playlist \
        else {}


def produced(before: str | None, after: str | None) -> float:
    """Media seconds published between two reads of a variant playlist."""
    old = durations(before)
    newest = max(old, default=-1)
    return sum(d for seq, d in durations(after).items() if seq > newest)


def assert_steady(samples: list[list[float]], what: str, made: float) -> None:
    """The daemon kept publishing in real time, and playback kept advancing: it never
    stood still for a second, and covered at least half the media published meanwhile.

    Why only half: headless Chromium has no sound card; its stand-in audio sink, which
    drives currentTime, runs slow when the CPU is contended (seen on a loaded 2-core
    machine: 0.4-0.9 s of media per wall second, never still). A stall at the live edge,
    which is what hlsd could cause, is caught sample by sample instead.
    """
    wall = samples[-1][0] - samples[0][0]
    played = samples[-1][1] - samples[0][1]
    assert made >= 0.8 * wall - 1.0, f"{what}: {made:.2f} s of media published in {wall:.2f} s"
    assert played >= 0.5 * min(wall, made), \
        f"{what}: {played:.2f} s played in {wall:.2f} s; {made:.2f} s of media published"
    still_since = samples[0][0]
    for (_, prev_t, *_), (now, t, *_) in itertools.pairwise(samples):
        if t > prev_t:
            still_since = now
        assert now - still_since < 1.0, f"{what}: stalled at currentTime {t:.2f}"


@pytest.mark.browser
@pytest.mark.parametrize(("mode", "segment_format", "encrypted"), [
    ("shared", "ts", False), ("per_rung", "ts", False), ("shared", "fmp4", False),
    ("per_rung", "fmp4", True)])
async def test_the_master_plays_and_a_forced_level_plays_at_its_resolution(
        tmp_path: Path, mode: str, segment_format: str, encrypted: bool) -> None:
    """1. `hlsd run`: a live ladder (480x270, 320x180, 64k audio-only, 1 s segments) as
       MPEG-TS or CMAF (fMP4; MSE is strict about avcC, esds and timestamps), clear or
       AES-128 encrypted with a new key every 2 segments, served by its own HTTP origin
       on a free loopback port
    2. Chromium opens the player page (hls.js from a local copy, answered at its
       configured CDN URL; not in lowLatencyMode): the master plays, currentTime
       advances steadily, the picture has one rung's resolution
    3. `hls.currentLevel` forced to the other video rung: playback goes on, steadily,
       at that rung's resolution; a screenshot is saved
    4. encrypted: playback went on across key rotations (keys seen in the playlists)
    5. SIGTERM: exit 0, no ffmpeg left; nothing was fetched from outside 127.0.0.1
    """
    require_browser()
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed")
    www, log = tmp_path / "www", tmp_path / "hlsd.log"
    encoders: set[int] = set()
    keys: set[str] = set()
    with running(ladder_config(tmp_path, mode, segment_format, encrypted), log) as proc:
        url = wait_for(lambda: origin_url(log), 20, "the http origin")
        wait_for(lambda: all(segment_count(read(www / f"live_{rung}.m3u8")) >= 3
                             for rung in RUNGS) and (www / "live.m3u8").exists(),
                 30, "three segments per rung and the master")
        encoders.update(p for p in descendants(proc.pid) if process_name(p) == "ffmpeg")
        assert len(encoders) == (1 if mode == "shared" else 3)

        async with browser_page(serve_hlsjs_at=DEFAULT_HLS_JS) as b:
            page = b.page
            await page.goto(url)
            await wait_for_playback(page, seconds=0.5)
            # /info.json says the stream is not LL-HLS: hls.js runs without lowLatencyMode
            assert await page.evaluate("window.hlsd.hls.config.lowLatencyMode") is False
            assert await page.inner_text("#mode") == "regular HLS"
            levels: list[dict[str, Any]] = await page.evaluate(
                "window.hlsd.hls.levels.map(l => ({width: l.width, height: l.height}))")
            sizes = [(lv["width"], lv["height"]) for lv in levels]
            # hls.js leaves the audio-only rung out of a ladder that has video rungs.
            assert sorted(sizes) == sorted(size for size, _ in RUNGS.values())

            def variant(size: tuple[int, int]) -> str | None:
                rung = next(name for name, (s, _) in RUNGS.items() if s == size)
                return read(www / f"live_{rung}.m3u8")

            first = variant(sizes[0])  # every rung is cut at the same moments
            keys |= key_uris(first)
            before = await sample_playback(page, STEADY_WINDOW)
            assert_steady(before, "the master", produced(first, variant(sizes[0])))
            shown = (before[-1][2], before[-1][3])
            assert shown in sizes, f"picture is {shown}, not a rung's resolution"

            target = next(i for i, size in enumerate(sizes) if size != shown)
            width, height = sizes[target]
            await page.evaluate("level => { window.hlsd.hls.currentLevel = level; }", target)
            await page.wait_for_function(
                "([w, h]) => { const v = document.querySelector('video');"
                " return v.videoWidth === w && v.videoHeight === h; }",
                arg=[width, height], timeout=15_000)
            first = variant((width, height))
            keys |= key_uris(first)
            after = await sample_playback(page, STEADY_WINDOW)
            keys |= key_uris(variant((width, height)))
            assert_steady(after, f"level {target}", produced(first, variant((width, height))))
            assert {(w, h) for _, _, w, h in after} == {(width, height)}
            assert await page.evaluate("window.hlsd.hls.currentLevel") == target
            await page.screenshot(path=str(tmp_path / "playback.png"))
            assert b.blocked == []
            assert b.errors == []

        if encrypted:  # every segment encrypted, keys rotating under the player
            assert len(keys) >= 3, keys
            assert "#EXT-X-KEY:METHOD=AES-128" in (read(www / "live_ep_audio.m3u8") or "")
            assert not list(www.glob("*.key")), "a key landed next to the segments"
        encoders.update(p for p in descendants(proc.pid) if process_name(p) == "ffmpeg")
        start = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        assert time.monotonic() - start < 15
    assert not [p for p in encoders if process_name(p) == "ffmpeg"]
    assert not [p for p in descendants(os.getpid()) if process_name(p) == "ffmpeg"]
    assert "Traceback" not in log.read_text()
    assert (tmp_path / "playback.png").stat().st_size > 0
