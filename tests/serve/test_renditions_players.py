"""Players on the alternate renditions of tests/service/test_renditions_e2e.py (two video
variants without audio, English and Spanish audio renditions, English WebVTT subtitles),
served from the published folder over HTTP on 127.0.0.1: hls.js and Shaka Player in
Chromium, and GStreamer's playbin3 (hlsdemux2)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser import browser_page, hlsjs_path, npm_file, require_browser
from tests.daemon_util import wait_for
from tests.fixtures.static_http import serving
from tests.serve.test_gstreamer import playbin, require_gstreamer
from tests.service.test_renditions_e2e import CUES, published, source

pytestmark = pytest.mark.e2e
__all__ = ["published", "source"]  # the fixtures, shared with the file they come from

SHAKA_SPEC = "shaka-player@4"
PLAY_FOR = 12.0  # seconds GStreamer renders


@pytest.fixture
def root(published: Path) -> Iterator[str]:
    """The published folder over HTTP on 127.0.0.1: its URL, ending in '/'."""
    with serving(published) as url:
        yield url


@pytest.fixture
def served(published: Path, root: str) -> str:
    """A page playing the folder with hls.js."""
    require_browser()
    shutil.copy(hlsjs_path(), published / "hls.min.js")
    (published / "play.html").write_text(PAGE)
    return root + "play.html"


PAGE = """<!doctype html><video muted autoplay playsinline></video>
<script src="hls.min.js"></script><script>
const video = document.querySelector('video');
const hls = new Hls({enableWorker: true});
window.hls = hls; window.switched = []; window.fatal = [];
hls.on(Hls.Events.AUDIO_TRACK_SWITCHED, (_, d) => window.switched.push(d.id));
hls.on(Hls.Events.ERROR, (_, d) => { if (d.fatal) window.fatal.push(d.details); });
hls.loadSource('live.m3u8'); hls.attachMedia(video);
</script>"""


@pytest.mark.browser
async def test_hlsjs_plays_switches_audio_and_shows_subtitles(served: str) -> None:
    """1. hls.js loads the master: 2 audio tracks (English default), 1 subtitle track
    2. playing, the Spanish track is chosen: hls.js switches to it and plays on 3 s more
    3. with the subtitle track on, the text track's cues start where the source's did"""
    async with browser_page() as session:
        page = session.page
        await page.goto(served)
        await page.wait_for_function("window.hls.audioTracks.length > 0 && "
                                     "!document.querySelector('video').paused && "
                                     "document.querySelector('video').currentTime > 1",
                                     timeout=30_000)
        tracks = await page.evaluate(
            "window.hls.audioTracks.map(t => [t.lang, t.name, t.default])")
        assert tracks == [["en", "English", True], ["es", "Español", False]]
        assert await page.evaluate("window.hls.subtitleTracks.map(t => t.lang)") == ["en"]
        now = await page.evaluate("document.querySelector('video').currentTime")
        await page.evaluate("window.hls.audioTrack = 1; window.hls.subtitleTrack = 0")
        await page.wait_for_function(
            "t => window.switched.includes(1) && "
            "document.querySelector('video').currentTime > t + 3", arg=now, timeout=30_000)
        assert await page.evaluate("window.hls.audioTrack") == 1
        await page.wait_for_function(
            "(() => { const t = document.querySelector('video').textTracks;"
            " return [...t].some(x => x.cues && x.cues.length >= 2); })()", timeout=30_000)
        starts = await page.evaluate(
            "[...document.querySelector('video').textTracks].flatMap("
            " x => x.cues ? [...x.cues].map(c => [c.text, c.startTime]) : [])")
        assert not session.errors and not await page.evaluate("window.fatal")
    expected = {text: a for a, _, text in CUES}
    for text, start in starts:
        assert start == pytest.approx(expected[text], abs=0.1), (text, start)


SHAKA_PAGE = """<!doctype html><video muted autoplay playsinline></video>
<script src="shaka-player.compiled.js"></script><script>
window.failed = [];
(async () => {
  shaka.polyfill.installAll();
  const video = document.querySelector('video');
  const player = new shaka.Player();
  window.player = player;
  player.addEventListener('error', e => window.failed.push(String(e.detail.code)));
  await player.attach(video);
  try { await player.load('live.m3u8'); } catch (e) { window.failed.push(String(e.code)); }
})();
</script>"""
ACTIVE_LANGUAGE = "window.player.getVariantTracks().filter(t => t.active).map(t => t.language)"


@pytest.mark.browser
async def test_shaka_plays_and_switches_audio(published: Path, root: str) -> None:
    """1. Shaka Player (npm shaka-player@4) loads the master in Chromium: languages en and
       es for audio, one English text track; it starts on the default, English
    2. playing, Spanish is chosen: the active variant's language becomes es, and it plays
       3 s more without an error"""
    require_browser()
    shutil.copy(npm_file(SHAKA_SPEC, "dist/shaka-player.compiled.js"),
                published / "shaka-player.compiled.js")
    (published / "shaka.html").write_text(SHAKA_PAGE)
    async with browser_page() as session:
        page = session.page
        await page.goto(root + "shaka.html")
        await page.wait_for_function(
            "window.failed.length > 0 || (window.player && "
            "document.querySelector('video').currentTime > 1)", timeout=30_000)
        assert not await page.evaluate("window.failed")
        languages = await page.evaluate("window.player.getAudioLanguages().sort()")
        assert languages == ["en", "es"]
        assert await page.evaluate("window.player.getTextTracks().map(t => t.language)") \
            == ["en"]
        assert await page.evaluate(ACTIVE_LANGUAGE) == ["en"]
        now = await page.evaluate("document.querySelector('video').currentTime")
        await page.evaluate("window.player.selectAudioLanguage('es')")
        await page.wait_for_function(
            f"t => {ACTIVE_LANGUAGE}[0] === 'es' && "
            "document.querySelector('video').currentTime > t + 3", arg=now, timeout=30_000)
        assert not await page.evaluate("window.failed") and not session.errors


def test_gstreamer_plays_video_and_the_default_audio(root: str) -> None:
    """1. `gst-launch-1.0 playbin3 uri=<folder>/live.m3u8` with fakesinks rendering in
       real time (hlsdemux2 reads the master, a video variant and the audio rendition)
    2. video frames and audio both reach their sinks for 12 s of the stream, no error"""
    require_gstreamer()
    with playbin(root + "live.m3u8") as (player, rendered):
        wait_for(lambda: rendered.video_span() >= PLAY_FOR or player.poll() is not None,
                 PLAY_FOR + 45, f"{PLAY_FOR} s of video rendered by GStreamer")
    output = "".join(rendered.lines)
    assert rendered.video_span() >= PLAY_FOR, output[-4000:]
    assert len(rendered.video) >= PLAY_FOR * 25 * 0.9  # frames, not a few stills
    assert rendered.audio and max(rendered.audio) - min(rendered.audio) >= PLAY_FOR - 2, \
        output[-4000:]
    assert "ERROR" not in output, output[-4000:]
