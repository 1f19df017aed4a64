"""Glass-to-glass latency of live HLS in a real player: LL-HLS from hlsd against regular
HLS from hlsd and against FFmpeg's own hls muxer, side by side.

    python bench/latency.py [--seconds 15] [--rounds 2] [--only ll-0.5,ll-0.33,hlsd,ffmpeg]
                            (--only may add ll-0.5+defaults, ll-0.33+defaults)

Latency here is glass to glass: the wall clock when a picture is on screen minus the wall
clock when that picture was made. The source stamps every frame with the time it was
made, in the picture itself: ffmpeg's lavfi test pattern is read in real time (`-re`),
each frame's timestamp is replaced by the wall clock at that moment (`setpts=RTCTIME`),
and a `geq` filter paints that time (milliseconds modulo 2^20) as 20 black/white 16x16
blocks across the top of the picture, with the complement painted below as a check;
then the timestamps are made regular again and the frame goes to x264. In headless
Chromium, hls.js plays the stream; at every frame the player presents
(`requestVideoFrameCallback`), the page copies the strip to a canvas, reads the blocks
back (a frame whose two rows disagree is dropped) and subtracts them from the frame's
expected display time. Both clocks are this machine's wall clock. Nothing is assumed
about the encoder, the segmenter, the origin or the player: everything between the
picture being made and being shown is in the figure.

Why not hls.js' `playingDate` alone: it derives from EXT-X-PROGRAM-DATE-TIME, which hlsd
sets when a segment is complete (its end minus its duration), i.e. after the encoder's
own delay; `Date.now() - playingDate` therefore leaves the encoder and the pipe to the
segmenter out. It is reported beside the glass-to-glass figure (as the player page shows
it); the difference between the two is the delay before hlsd gets the media.

Configurations, one at a time, in alternating order over `--rounds` rounds (each with a
fresh daemon, so the start-up phase varies as it does for viewers; the player joins
once the playlist holds its whole window, six segments, as on a stream that has been
running for a while): hlsd LL-HLS with
0.5 s parts and with 0.33 s parts (2 s segments), hlsd without LL (regular HLS, 2 s
segments, the same origin and player page: hls.js without lowLatencyMode), and FFmpeg's
hls muxer (2 s fMP4 segments with program date times) writing into a folder served by
`python -m http.server`, played by hls.js with its defaults. The same source, filter and
x264 settings in all four; video only (headless Chromium's stand-in audio sink runs slow
under load, and would drag playback and its latency with it). hls.js' own view is
reported too: `hls.targetLatency` (what it aims at: PART-HOLD-BACK in LL mode) and
`hls.latency` (its distance from the live edge of the playlist). The LL configurations
play the player page as shipped: hls.js may play up to 1.5x while behind its target
(`maxLiveSyncPlaybackRate`), and playback starts once a part target of media is
buffered ahead. The `+defaults` variants open the page with `?hlsjs=defaults`: hls.js'
own defaults beside `lowLatencyMode` (rate 1: the time a player loses while starting is
never made up; playback asked for at once).

`ll-0.5+srt` (with `--only`): the same LL-HLS stream, but the clock-painted picture is
made by a separate ffmpeg that pushes it over SRT (120 ms latency) to hlsd's listener, as
a contribution encoder would; hlsd's ingest stage relays it and the rung encodes it again.
Beside `ll-0.5` it shows what push ingest costs in latency.

Goals (loopback): median ≤ 2.0 s with 0.5 s parts and 2 s segments, ≤ 1.5 s with 0.33 s
parts. This is a measurement, not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from live_daemon import live_daemon

from hlsd.config import DEFAULT_HLS_JS
from tests.browser import browser_page, hlsjs_path
from tests.daemon_util import FAST_X264, wait_for
from tests.fixtures.nginx_cache import free_port

SEGMENT = 2.0
BITS = 20  # milliseconds modulo 2^20 (17 minutes): far more than any latency
BLOCK = 16
WIDTH, HEIGHT, RATE = 320, 180, 25
GOALS = {"ll-0.5": 2.0, "ll-0.33": 1.5}
# "ll-0.5+defaults": the same stream, the page with hls.js' defaults (no catch-up).
DEFAULTS = "+defaults"
# LL-HLS 0.5 s from an SRT publisher: the contribution encode, SRT's 120 ms, the ingest
# stage's reader and pipe, then hlsd's own encode (the others encode once, in hlsd).
SRT = "ll-0.5+srt"
WINDOW = 6  # segments in the playlists (hlsd's index_segment_count, ffmpeg's list size)

_BIT = f"mod(floor(mod(floor(T*1000),{2 ** BITS})/pow(2,floor(X/{BLOCK}))),2)"
# The wall clock painted into each frame as it is made (see the docstring).
CLOCK_FILTER = (
    f"[0:v]format=yuv420p,settb=AVTB,setpts=RTCTIME,split[a][b];"
    f"[b]crop={WIDTH}:{2 * BLOCK}:0:0,"
    f"geq=lum='if(lt(Y,{BLOCK}),{_BIT},1-{_BIT})*219+16':cb=128:cr=128[bar];"
    f"[a][bar]overlay=0:0,setpts=N/({RATE}*TB)")
SOURCE = f"ffmpeg -re -f lavfi -i testsrc2=size={WIDTH}x{HEIGHT}:rate={RATE}"
ENCODE = f'{SOURCE} -filter_complex "{CLOCK_FILTER}" {FAST_X264} -b:v 300k'

# Per presented frame: [glass-to-glass s or null, Date.now() - playingDate s or null,
# hls.latency, hls.targetLatency].
MEASURE = """([seconds, bits, block]) => new Promise(resolve => {
  const v = document.querySelector('video');
  const width = bits * block;
  const canvas = document.createElement('canvas');
  canvas.width = width; canvas.height = 2 * block;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  const modulo = 2 ** bits, out = [];
  let unreadable = 0;
  const started = performance.now();
  function paintedClock() {
    ctx.drawImage(v, 0, 0, width, 2 * block, 0, 0, width, 2 * block);
    const px = ctx.getImageData(0, 0, width, 2 * block).data;
    let value = 0;
    for (let i = 0; i < bits; i++) {
      const x = i * block + block / 2;
      const top = px[((block / 2) * width + x) * 4] > 128;
      const below = px[((block + block / 2) * width + x) * 4] > 128;
      if (top === below) return null;  // the check row disagrees: not a clean picture
      if (top) value += 2 ** i;
    }
    return value;
  }
  function onFrame(now, meta) {
    const shown = performance.timeOrigin + meta.expectedDisplayTime;
    const made = paintedClock();
    const hls = window.hlsd && window.hlsd.hls;
    const date = hls ? hls.playingDate : null;
    let glass = null;
    if (made === null) unreadable++;
    else glass = (((Math.round(shown) - made) % modulo) + modulo) % modulo / 1000;
    out.push([glass, date instanceof Date ? (Date.now() - date.getTime()) / 1000 : null,
              hls ? hls.latency : null, hls ? hls.targetLatency : null]);
    if (performance.now() - started < seconds * 1000) v.requestVideoFrameCallback(onFrame);
    else resolve({ samples: out, unreadable });
  }
  v.requestVideoFrameCallback(onFrame);
})"""

FFMPEG_PAGE = """<!doctype html>
<meta charset="utf-8"><title>ffmpeg hls</title>
<video muted autoplay playsinline></video>
<script src="hls.min.js"></script>
<script>
  const video = document.querySelector("video");
  const hls = new Hls({ enableWorker: true, lowLatencyMode: false });
  window.hlsd = { hls, errors: [] };
  hls.on(Hls.Events.ERROR, (_, d) => window.hlsd.errors.push(d.details));
  hls.on(Hls.Events.MANIFEST_PARSED, () => video.play());
  hls.loadSource("live.m3u8");
  hls.attachMedia(video);
</script>
"""


@dataclass
class Result:
    glass: list[float] = field(default_factory=list)
    pdt: list[float] = field(default_factory=list)
    hls_latency: list[float] = field(default_factory=list)
    target: list[float] = field(default_factory=list)
    round_medians: list[float] = field(default_factory=list)
    unreadable: int = 0
    frames: int = 0
    errors: list[str] = field(default_factory=list)


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def full_window(playlist: Path) -> bool:
    """The stream has run long enough for a player joining now to sit where it would on
    a long-running stream (regular HLS: three target durations behind the edge)."""
    try:
        return playlist.read_text().count("#EXTINF") >= WINDOW
    except FileNotFoundError:
        return False


@contextmanager
def ffmpeg_hls(workdir: Path) -> Iterator[str]:
    """FFmpeg's hls muxer writing into a folder that `python -m http.server` serves,
    with a page that plays it with hls.js' defaults; yields the page's URL."""
    www = workdir / "www"
    www.mkdir(parents=True)
    shutil.copy(hlsjs_path(), www / "hls.min.js")
    (www / "index.html").write_text(FFMPEG_PAGE)
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "http.server", "--bind", "127.0.0.1",
                               str(port), "--directory", str(www)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    encoder = subprocess.Popen(
        ["ffmpeg", "-v", "error", "-nostdin", "-re", "-f", "lavfi", "-i",
         f"testsrc2=size={WIDTH}x{HEIGHT}:rate={RATE}", "-filter_complex", CLOCK_FILTER,
         *FAST_X264.split(), "-b:v", "300k",
         "-force_key_frames", f"expr:gte(t,n_forced*{SEGMENT:g})",
         "-f", "hls", "-hls_time", f"{SEGMENT:g}", "-hls_list_size", str(WINDOW),
         "-hls_segment_type", "fmp4",
         "-hls_flags", "delete_segments+program_date_time+independent_segments+temp_file",
         str(www / "live.m3u8")], stderr=(workdir / "ffmpeg.log").open("wb"))
    try:
        wait_for(lambda: full_window(www / "live.m3u8"), 60, "ffmpeg's playlist window")
        yield f"http://127.0.0.1:{port}/index.html"
    finally:
        for proc in (encoder, server):
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@contextmanager
def srt_push(workdir: Path) -> Iterator[str]:
    """The clock-painted picture made by a separate ffmpeg (a contribution encoder, as OBS
    would be) and pushed over SRT to hlsd's listener; hlsd's rung encodes it again."""
    port = free_port()
    argv = [*shlex.split(ENCODE), "-g", str(RATE), "-b:v", "1500k", "-f", "mpegts",
            f"srt://127.0.0.1:{port}?latency=120000&connect_timeout=500"]
    stop = threading.Event()
    procs: list[subprocess.Popen[bytes]] = []

    def publish() -> None:  # an encoder retrying until hlsd's listener takes it
        with (workdir / "publisher.log").open("ab") as log:
            while not stop.is_set():
                procs.append(subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                              stderr=log))
                procs[-1].wait()
                stop.wait(0.2)

    publisher = threading.Thread(target=publish, daemon=True)
    publisher.start()
    try:
        with live_daemon(workdir, segment=SEGMENT, part=0.5,
                         input_location=f"srt://127.0.0.1:{port}?mode=listener",
                         rungs={"hi": f"ffmpeg -i %s {FAST_X264} -b:v 300k -f mpegts -"}
                         ) as daemon:
            wait_for(lambda: full_window(daemon.www / "live_hi.m3u8"), 60,
                     "the playlist window")
            yield daemon.url
    finally:
        stop.set()
        for proc in procs:
            proc.kill()
        publisher.join(10)


@contextmanager
def stream(name: str, workdir: Path) -> Iterator[str]:
    """The player page's URL for a configuration, while its stream runs."""
    if name == "ffmpeg":
        with ffmpeg_hls(workdir) as url:
            yield url
        return
    if name == SRT:
        with srt_push(workdir) as url:
            yield url
        return
    part = {"ll-0.5": 0.5, "ll-0.33": 0.33, "hlsd": None}[name.removesuffix(DEFAULTS)]
    with live_daemon(workdir, segment=SEGMENT, part=part,
                     rungs={"hi": f"{ENCODE} -f mpegts -"}) as daemon:
        wait_for(lambda: full_window(daemon.www / "live_hi.m3u8"), 60, "the playlist window")
        yield daemon.url + ("?hlsjs=defaults" if name.endswith(DEFAULTS) else "")


async def measure(url: str, seconds: float, settle: float
                  ) -> tuple[dict[str, object], list[str]]:
    async with browser_page(serve_hlsjs_at=DEFAULT_HLS_JS) as b:
        await b.page.goto(url)
        await b.page.wait_for_function(
            "s => { const v = document.querySelector('video');"
            " return v && !v.paused && v.currentTime > s; }", arg=0.5, timeout=30_000)
        await asyncio.sleep(settle)  # a fixed span of playback before sampling, not a sync
        found = await b.page.evaluate(MEASURE, [seconds, BITS, BLOCK])
        errors = await b.page.evaluate("window.hlsd.errors")
        return found, [*errors, *b.errors]


def run(name: str, base: Path, seconds: float, settle: float, into: Result) -> None:
    workdir = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=base))
    try:
        with stream(name, workdir) as url:
            found, errors = asyncio.run(measure(url, seconds, settle))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    samples = found["samples"]
    assert isinstance(samples, list)
    glass = [g for g, _, _, _ in samples if g is not None and g < 60]
    into.glass += glass
    into.pdt += [p for _, p, _, _ in samples if p is not None]
    into.hls_latency += [x for _, _, x, _ in samples if x is not None]
    into.target += [t for _, _, _, t in samples if t is not None]
    into.round_medians.append(median(glass))
    into.unreadable += int(str(found["unreadable"]))
    into.frames += len(samples)
    into.errors += errors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=15.0, help="sampling per run")
    parser.add_argument("--settle", type=float, default=3.0,
                        help="playback before sampling starts")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--only", default="ll-0.5,ll-0.33,hlsd,ffmpeg",
                        help="also: ll-0.5+defaults, ll-0.33+defaults, ll-0.5+srt")
    args = parser.parse_args()
    names = args.only.split(",")
    results = {name: Result() for name in names}
    base = Path(tempfile.mkdtemp(prefix="hlsd-bench-latency-"))
    try:
        for round_ in range(args.rounds):
            order = names if round_ % 2 == 0 else names[::-1]
            for name in order:
                run(name, base, args.seconds, args.settle, results[name])
                print(f"  round {round_ + 1}: {name} median "
                      f"{results[name].round_medians[-1]:.2f} s", file=sys.stderr)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    report(results, args)
    return 0


LABELS = {"ll-0.5": "hlsd LL-HLS, 0.5 s parts", "ll-0.33": "hlsd LL-HLS, 0.33 s parts",
          "ll-0.5+defaults": "LL 0.5 s, hls.js defaults", "ll-0.33+defaults":
          "LL 0.33 s, hls.js defaults", "hlsd": "hlsd regular HLS", "ffmpeg": "ffmpeg -f hls",
          SRT: "LL 0.5 s, pushed over SRT"}


def report(results: dict[str, Result], args: argparse.Namespace) -> None:
    print(f"Glass-to-glass latency in headless Chromium + hls.js, {SEGMENT:g} s segments, "
          f"{WIDTH}x{HEIGHT} {RATE} fps x264 ultrafast/zerolatency 300 kbit/s, loopback; "
          f"{args.rounds} round(s) x {args.seconds:g} s of presented frames per "
          "configuration (after "
          f"{args.settle:g} s of playback), alternating order")
    print(f"  {'configuration':27} {'median':>7} {'p90':>6} {'rounds':>13} "
          f"{'PDT-based':>9} {'enc+pipe':>8} {'hls.js':>7} {'target':>7} {'frames':>7} "
          "goal")
    reference = results.get("ll-0.5")
    for name, r in results.items():
        glass, pdt = median(r.glass), median(r.pdt)
        goal = GOALS.get(name.removesuffix(DEFAULTS))
        verdict = "" if goal is None else (f"≤ {goal:g} s " + ("ok" if glass <= goal
                                                               else "MISSED"))
        rounds = "/".join(f"{m:.2f}" for m in r.round_medians)
        print(f"  {LABELS.get(name, name):27} {glass:>6.2f}s {percentile(r.glass, 90):>5.2f}s "
              f"{rounds:>13} {pdt:>8.2f}s {glass - pdt:>7.2f}s {median(r.hls_latency):>6.2f}s "
              f"{median(r.target):>6.2f}s {len(r.glass):>7} {verdict}")
        if r.unreadable:
            print(f"  {'':27} ({r.unreadable} of {r.frames} frames' clocks unreadable)")
        if r.errors:
            print(f"  {'':27} hls.js errors: {sorted(set(r.errors))}")
    if reference is not None and reference.glass:
        ref = median(reference.glass)
        print("  ratios of medians to LL-HLS with 0.5 s parts: " + ", ".join(
            f"{LABELS.get(n, n)} {median(r.glass) / ref:.2f}x" for n, r in results.items()
            if n != "ll-0.5" and r.glass))
    print("  PDT-based: Date.now() - hls.playingDate (the player page's figure); enc+pipe: "
          "glass-to-glass minus that, the time before hlsd dates the media (encoder, "
          "muxer, pipe, segmenter); hls.js: hls.latency, its distance from the playlist's "
          "live edge; target: hls.targetLatency (PART-HOLD-BACK in LL mode)")


if __name__ == "__main__":
    sys.exit(main())
