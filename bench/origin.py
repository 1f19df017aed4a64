"""LL-HLS origin capacity: N simulated players against the built-in origin, and through
nginx (etc/nginx/hlsd-cache.conf) with --through-nginx, through Varnish
(etc/varnish/hlsd.vcl) with --through-varnish, side by side; with --incumbent, also
against the origin as it was before its fast path (aiohttp answering every request:
bench/aiohttp_origin.py), a second daemon started once the first is done.

    python bench/origin.py [--players 50,100,200,500,1000,2000] [--seconds 10]
                           [--processes 2] [--through-nginx] [--through-varnish]
                           [--incumbent] [--fetch after-playlist,with-hint]

The stream is the real thing: `hlsd run`, two live fMP4 rungs (320x180 and 192x108 test
pictures, real ffmpeg encoders), 2 s segments, 0.5 s parts, LL-HLS from its origin on
loopback. Each simulated player (bench/ll_players.py: lean asyncio protocols sending the
header set Chromium sends, in `--processes` client processes, the players spread evenly
over the rungs, joining within one second) does what an LL-HLS client does at the live
edge: a blocking playlist reload for the next part (`_HLS_msn`/`_HLS_part`),
then a GET of that part, and again for the next one (hls.js); with `--fetch with-hint`
(also), the part its EXT-X-PRELOAD-HINT names asked for together with the blocking reload
(Apple's players): paths "direct+hint", "varnish+hint"...

Part-delivery delay = the moment a player has the part's bytes − the moment the part was
written. "Written" is when the segmenter renamed the part's file into place in temp_dir
(it is complete then, and announced a moment later): this process watches every rung's
temp directory with inotify (IN_MOVED_TO) and stamps each part's name with the wall clock;
the players stamp their receptions with the same clock. No debug hook in the daemon: the
delay includes everything the origin does (reading the segmenter's event and the file,
waking the blocked requests, rendering, sending) and the client's own time to read the
answer — with every process on one 2-core machine, the players' CPU is counted against
the origin, so the figures are an upper bound.

For each N: p50/p99 of the delay over every (player, part) in the window, parts missed
(not delivered by the end of the run: a player that fell behind, or out of step and
re-joined at the live edge), and CPU of the origin process (and of the cache); then the
largest N whose p99 ≤ 100 ms. Through a cache, one reference player per rung plays from the
origin directly at the same time, and "added" is a player's reception of a part minus the
reference's: what the cache tier adds (goal for Varnish: p99 ≤ 50 ms at 1000 players). The
cache's own log says which requests reached the origin: the origin's requests per part per
rung must stay about one whatever N is (goal ≤ 1.1). Bounded: at most 5000 players, at
most 60 s per step.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import json
import os
import resource
import select
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from live_daemon import RUNGS, live_daemon
from ll_players import run_players
from shields import NginxShield, Shield, VarnishShield

from hlsd.cli import loop_factory
from tests.fixtures.nginx_cache import nginx_binary
from tests.fixtures.varnish_cache import varnish_binary

SEGMENT = 2.0
PART = 0.5
P99_LIMIT = 0.100
PLAYER_GOAL = 1000
ADDED_P99_GOAL = 0.050  # what a cache tier may add at PLAYER_GOAL players
ORIGIN_REQUESTS_GOAL = 1.1  # blocking playlist requests per part per rung, through a cache
WARMUP = 3.0  # players join within the first second, then settle
MAX_PLAYERS = 5000
MAX_SECONDS = 60.0
IN_MOVED_TO = 0x80
INCUMBENT = "aiohttp"  # the path name of the origin before the fast path
FETCHES = ("after-playlist", "with-hint")  # how players fetch parts (bench/ll_players.py)
HINTED = "+hint"  # path names of players fetching with the hint
SHIELDS = ("nginx", "varnish")


# -- when parts are written -----------------------------------------------------------------
class PartWatch:
    """Wall-clock time at which each part file was renamed into place, by name."""

    def __init__(self, directories: list[Path]) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        self._fd = libc.inotify_init1(os.O_CLOEXEC)
        if self._fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        for directory in directories:
            if libc.inotify_add_watch(self._fd, str(directory).encode(), IN_MOVED_TO) < 0:
                raise OSError(ctypes.get_errno(), f"inotify_add_watch {directory}")
        self.written: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self._fd], [], [], 0.2)
            if not ready:
                continue
            now = time.time()
            data = os.read(self._fd, 65536)
            offset = 0
            while offset < len(data):
                _, _, _, length = struct.unpack_from("iIII", data, offset)
                name = data[offset + 16:offset + 16 + length].rstrip(b"\0").decode()
                offset += 16 + length
                if name.count(".") == 2 and name.endswith(".m4s"):  # NAME-<seq>.<i>.m4s
                    self.written.setdefault(name, now)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        os.close(self._fd)


# -- the players (client processes: bench/ll_players.py) --------------------------------
def client_main(args: argparse.Namespace) -> int:
    # the players on the event loop the daemon uses (uvloop, a dependency), so that the
    # load generator takes as little of the shared CPU as it can
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        result = runner.run(run_players(args.client, args.rungs.split(","), args.count,
                                        args.first, args.until, args.fetch))
    json.dump(result, sys.stdout)
    return 0


# -- one step: N players for a window -------------------------------------------------------
@dataclass
class Step:
    players: int
    delays: list[float]
    missed: int
    expected: int
    errors: dict[str, int]
    origin_cpu: float  # share of one core
    client_cpu: float
    machine: float  # share of all cores busy in the window, whoever used them
    path: str = "direct"
    proxy_cpu: float | None = None
    origin_playlists: float | None = None  # origin requests per part per rung, via a cache
    origin_parts: float | None = None
    added: list[float] | None = None  # through a cache: minus the reference's reception

    def pct(self, p: float) -> float:
        return percentile(self.delays, p)

    def added_pct(self, p: float) -> float:
        return percentile(self.added or [], p)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of every core since boot, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return sum(fields) - idle, sum(fields)


def players_process(base: str, rungs: list[str], count: int, first: int, until: float,
                    fetch: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, __file__, "--client", base, "--rungs", ",".join(rungs),
         "--count", str(count), "--first", str(first), "--until", str(until),
         "--fetch", fetch],
        stdout=subprocess.PIPE, text=True)


def run_step(origin: str, players: int, processes: int, seconds: float, watch: PartWatch,
             origin_pid: int, proxy: Shield | None, fetch: str = FETCHES[0]) -> Step:
    rungs = list(RUNGS)
    start = time.time() + WARMUP
    until = start + seconds
    share = [players // processes + (1 if i < players % processes else 0)
             for i in range(processes)]
    procs, first = [], 0
    for count in share:
        procs.append(players_process(proxy.url if proxy else origin, rungs, count, first,
                                     until, fetch))
        first += count
    # through a cache: one player per rung at the origin itself, the reference
    reference = players_process(origin, rungs, len(rungs), 0, until, fetch) if proxy else None
    proxy_pids = proxy.pids() if proxy is not None else []
    time.sleep(max(0.0, start - time.time()))  # the window starts at a fixed wall time
    origin_before, proxy_before = cpu_seconds([origin_pid]), cpu_seconds(proxy_pids)
    busy_before, total_before = machine_busy()
    time.sleep(max(0.0, until - time.time()))
    origin_cpu = (cpu_seconds([origin_pid]) - origin_before) / seconds
    proxy_cpu = (cpu_seconds(proxy_pids) - proxy_before) / seconds
    busy_after, total_after = machine_busy()
    machine = (busy_after - busy_before) / max(1, total_after - total_before)
    results = []
    for proc in procs:
        out, _ = proc.communicate(timeout=MAX_SECONDS + 60)
        results.append(json.loads(out))
    reference_at: dict[str, float] = {}
    if reference is not None:
        out, _ = reference.communicate(timeout=MAX_SECONDS + 60)
        reference_at = dict(json.loads(out)["deliveries"])

    # the parts written in the window, whose delivery every player of their rung owes
    window = {name: at for name, at in watch.written.items() if start <= at <= until - 1.0}
    per_rung = Counter(name.rsplit("-", 1)[0] for name in window)
    listeners = Counter(f"live_{rungs[i % len(rungs)]}" for i in range(players))
    expected = sum(per_rung[stem] * listeners[stem] for stem in per_rung)
    delays = [received - window[name] for r in results for name, received in r["deliveries"]
              if name in window]
    errors: Counter[str] = Counter()
    for r in results:
        errors.update(r["errors"])
    step = Step(players, delays, expected - len(delays), expected, dict(errors), origin_cpu,
                sum(r["cpu"] for r in results) / (seconds + WARMUP + 1), machine)
    if fetch != FETCHES[0]:
        step.path = "direct" + HINTED
    if proxy is not None:
        step.path, step.proxy_cpu = proxy.name + ("" if fetch == FETCHES[0] else HINTED), \
            proxy_cpu
        upstream = proxy.origin_uris(start, until)
        parts = max(1, sum(1 for at in watch.written.values() if start <= at <= until))
        step.origin_playlists = sum("_HLS_msn=" in uri for uri in upstream) / parts
        step.origin_parts = sum(uri.endswith(".m4s") for uri in upstream) / parts
        step.added = [received - reference_at[name] for r in results
                      for name, received in r["deliveries"]
                      if name in window and name in reference_at]
    return step


# -- the incumbent: the origin before its fast path ------------------------------------------
def run_incumbent(workdir: Path, steps: list[int], args: argparse.Namespace) -> list[Step]:
    """The same steps against the same daemon, but with aiohttp answering every request
    (bench/aiohttp_origin.py); run after the fast path's, never beside it (both at once
    would share the machine's two cores)."""
    launcher = Path(__file__).resolve().parent / "aiohttp_origin.py"
    measured = []
    with live_daemon(workdir, segment=SEGMENT, part=PART, launcher=launcher) as daemon:
        watch = PartWatch([daemon.temp_dir / rung for rung in RUNGS])
        try:
            for n in steps:
                step = run_step(daemon.url, n, args.processes, args.seconds, watch,
                                daemon.pid, None)
                step.path = INCUMBENT
                measured.append(step)
                print(f"  measured {n} players ({INCUMBENT})", file=sys.stderr)
        finally:
            watch.close()
    return measured


# -- the run --------------------------------------------------------------------------------
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--players", default="50,100,200,500,1000,2000")
    parser.add_argument("--seconds", type=float, default=10.0, help="window per step")
    parser.add_argument("--processes", type=int, default=2, help="client processes")
    parser.add_argument("--through-nginx", action="store_true",
                        help="each step also through etc/nginx/hlsd-cache.conf")
    parser.add_argument("--through-varnish", action="store_true",
                        help="each step also through etc/varnish/hlsd.vcl")
    parser.add_argument("--incumbent", action="store_true",
                        help="the same steps against the origin before its fast path "
                             "(aiohttp for every request), after the others")
    parser.add_argument("--varnish-param", action="append", default=[],
                        metavar="NAME=VALUE", help="a varnishd -p parameter (repeatable), "
                        "e.g. thread_pool_min=200")
    parser.add_argument("--lock-age", default=None,
                        help="nginx proxy_cache_lock_age instead of the shipped 20s, e.g. "
                             "100ms: waiters look again that often, and one more request "
                             "goes to the origin each time")
    parser.add_argument("--fetch", default=FETCHES[0],
                        help="how players fetch a part, comma-separated for several: "
                             "after-playlist (hls.js: the part once the blocking reload has "
                             "listed it), with-hint (Apple's players, RFC 8216bis 6.2.5.1: the "
                             "preload-hinted part asked for together with the blocking "
                             "reload); default %(default)s")
    parser.add_argument("--client", help=argparse.SUPPRESS)  # a client process: base URL
    parser.add_argument("--rungs", help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--first", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--until", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        return client_main(args)

    steps = [int(n) for n in args.players.split(",")]
    fetches = args.fetch.split(",")
    if any(f not in FETCHES for f in fetches):
        parser.error(f"--fetch: one or more of {', '.join(FETCHES)}")
    if max(steps) > MAX_PLAYERS or not 1 <= args.seconds <= MAX_SECONDS:
        parser.error(f"at most {MAX_PLAYERS} players and {MAX_SECONDS:g} s per step")
    if args.through_nginx and nginx_binary() is None:
        parser.error("--through-nginx needs nginx (apt-get install nginx-light)")
    if args.through_varnish and varnish_binary() is None:
        parser.error("--through-varnish needs varnish (apt-get install varnish)")
    params = dict(p.split("=", 1) for p in args.varnish_param)
    # every player holds a connection to the origin (and nginx one more upstream)
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    base = Path(tempfile.mkdtemp(prefix="hlsd-bench-origin-"))
    rows: list[list[Step]] = []
    shields: list[Shield] = []
    try:
        with live_daemon(base / "hlsd", segment=SEGMENT, part=PART) as daemon:
            watch = PartWatch([daemon.temp_dir / rung for rung in RUNGS])
            try:
                if args.through_nginx:
                    shields.append(NginxShield(daemon.port, base / "nginx", max(steps),
                                               args.lock_age))
                if args.through_varnish:
                    shields.append(VarnishShield(daemon.port, base / "varnish", params))
                for n in steps:
                    row = []
                    for fetch in fetches:
                        row += [run_step(daemon.url, n, args.processes, args.seconds, watch,
                                         daemon.pid, shield, fetch)
                                for shield in [None, *shields]]
                    rows.append(row)
                    print(f"  measured {n} players", file=sys.stderr)
            finally:
                watch.close()
                for shield in shields:
                    print(f"  {shield.name}: {shield.notes()}", file=sys.stderr)
                    shield.stop()
        if args.incumbent:
            for row, step in zip(rows, run_incumbent(base / "incumbent", steps, args),
                                 strict=True):
                row.append(step)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    report(rows, args)
    return 0


def report(rows: list[list[Step]], args: argparse.Namespace) -> None:
    print(f"LL-HLS origin capacity: hlsd's origin, {len(RUNGS)} live rungs, {SEGMENT:g} s "
          f"segments, {PART:g} s parts; players spread over the rungs, in {args.processes} "
          f"client processes; {args.seconds:g} s window per step after a {WARMUP:g} s warm-up")
    print("delivery delay = part bytes received by a player - part file renamed into place "
          "by the segmenter (inotify); added = through a cache, minus the reception of a "
          "reference player at the origin; every process on this machine "
          f"({os.cpu_count()} cores); CPU of the origin, the players, the cache: share of "
          "one core; machine: share of all cores busy, whoever used them; req/part: the "
          "origin's requests per part per rung through the cache (blocking playlists, "
          "parts)")
    if any(step.path == INCUMBENT for row in rows for step in row):
        print(f"{INCUMBENT}: the origin before its fast path, aiohttp answering every request "
              "(bench/aiohttp_origin.py), a daemon of its own measured after the others")
    print(f"  {'players':>7}  {'path':13} {'p50 ms':>8} {'p99 ms':>8} {'+p50':>6} {'+p99':>6} "
          f"{'missed':>6} {'origin':>6} {'players':>7} {'machine':>7} {'cache':>6}  req/part")
    best: dict[str, int] = {}
    for row in rows:
        for step in row:
            best.setdefault(step.path, 0)
            if good(step):
                best[step.path] = max(best[step.path], step.players)
            missed = step.missed / step.expected if step.expected else float("nan")
            added = (f"{'-':>6} {'-':>6}" if step.added is None else
                     f"{step.added_pct(50) * 1e3:>6.1f} {step.added_pct(99) * 1e3:>6.1f}")
            line = (f"  {step.players:>7}  {step.path:13} {step.pct(50) * 1e3:>8.1f} "
                    f"{step.pct(99) * 1e3:>8.1f} {added} "
                    f"{missed:>6.1%} {step.origin_cpu:>6.0%} "
                    f"{step.client_cpu:>7.0%} {step.machine:>7.0%}")
            if step.proxy_cpu is not None:
                line += (f" {step.proxy_cpu:>6.0%}  {step.origin_playlists:.2f}, "
                         f"{step.origin_parts:.2f}")
            print(line)
            if step.errors:
                print(f"  {'':>7}  errors: {step.errors}")
    verdict = "ok" if best.get("direct", 0) >= PLAYER_GOAL else "MISSED"
    print(f"  largest N with p99 ≤ {P99_LIMIT * 1e3:.0f} ms (and < 1 % missed): direct "
          f"{best.get('direct') or 'none'} (goal ≥ {PLAYER_GOAL}: {verdict})"
          + "".join(f"; {'through ' if path.split('+')[0] in SHIELDS else ''}{path} "
                    f"{n or 'none'}"
                    for path, n in best.items() if path != "direct"))
    for step in (s for row in rows for s in row if s.added is not None):
        if step.players == PLAYER_GOAL:
            met = (step.added_pct(99) <= ADDED_P99_GOAL and step.origin_playlists is not None
                   and step.origin_playlists <= ORIGIN_REQUESTS_GOAL)
            print(f"  through {step.path} at {PLAYER_GOAL} players: p99 added "
                  f"{step.added_pct(99) * 1e3:.1f} ms, {step.origin_playlists:.2f} origin "
                  f"requests per part per rung (goal ≤ {ADDED_P99_GOAL * 1e3:.0f} ms, "
                  f"≤ {ORIGIN_REQUESTS_GOAL}: {'met' if met else 'missed'})")


def good(step: Step) -> bool:
    return step.pct(99) <= P99_LIMIT and step.missed <= 0.01 * step.expected


if __name__ == "__main__":
    sys.exit(main())
