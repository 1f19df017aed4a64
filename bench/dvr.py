"""Time-shift at scale: a 24 h window of 1 s segments against a 1-minute one, side by side.

    python bench/dvr.py [--segments 200] [--requests 300] [--rungs 3]

The index of each rung is built synthetically (86,400 entries, or 60) rather than by
streaming for a day; then, per window:

(a) Publish latency: a real `Destination` with the copy backend on a temp folder is
    offered one 1 s segment every 50 ms (dates advancing a second each, so each one
    trims the oldest entry); latency runs from `offer()` to the return of the
    `put_playlist` that stores the variant naming it. As in the daemon, the state (with
    the index) is serialised every second in a thread meanwhile.
(b) `?start=` answer time: the real `HttpOrigin` with its `TimeShift` on loopback, asked
    sequentially by one aiohttp client for a closed span (`start=now-40&end=now-20`), an
    open one (`start=now-30`), the master (`live.m3u8?start=now-30`) and the whole window
    (`start=now-86400`, gzip accepted, as players send): request sent to body read.
    Then the whole window's open span again, full and as a delta update (`_HLS_skip=YES`),
    each asked right after one more segment is listed (no kept answer can serve it): time
    and size, plain and gzipped.
(c) Memory per hour of window (tracemalloc over building one rung's index of 3,600
    entries), the state's size and its serialisation time: every second, in steady state
    (the index's full chunks encoded once, as a daemon does as they fill), and the first
    one (every chunk encoded: once after building, never after a restart).

Prints p50/p99 per figure and the 24 h / 1 min ratios; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp

from hlsd.config.model import CopyProfile, HttpSettings
from hlsd.media.dvr import DvrIndex
from hlsd.media.ladder import Ladder
from hlsd.media.playlist import Entry
from hlsd.publish import transfer
from hlsd.publish.destination import Destination
from hlsd.publish.segment import SegmentFile
from hlsd.publish.settings import PublishSettings
from hlsd.publish.state import DestinationState
from hlsd.serve.http import HttpOrigin
from hlsd.serve.timeshift import TimeShift

DAY, MINUTE = 86_400, 60
PAYLOAD = b"\x47" + bytes(187)  # one TS packet's worth


def index_of(rung: str, entries: int, end: datetime) -> DvrIndex:
    index = DvrIndex()
    first = end - timedelta(seconds=entries)
    for seq in range(entries):
        index.add(Entry(seq, f"live_{rung}-{seq:05d}.ts", 1.0,
                        program_date_time=first + timedelta(seconds=seq)))
    return index


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


class Status:
    def health(self) -> tuple[bool, dict[str, Any]]:
        return True, {}

    def info(self) -> dict[str, Any]:
        return {"master": "live.m3u8"}

    def metrics(self) -> tuple[bytes, str]:
        return b"", "text/plain"


async def run_window(window: int, rungs: list[str], segments: int, requests: int,
                     folder: Path) -> dict[str, float]:
    # Dates a second apart, the newest published one ending about now: the spans asked
    # for (now-40 ...) fall inside the window.
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=segments)
    state = DestinationState(dvr={r: index_of(r, window, now) for r in rungs})
    ladder = Ladder("live", 6)
    ladder.set_rungs(dict.fromkeys(rungs, 1_000_000))
    www = folder / f"www{window}"
    work = folder / f"work{window}"
    work.mkdir(parents=True)
    dest = Destination(transfer.create(CopyProfile("www", www)), 4,
                       PublishSettings(1, 6, 1.0, "", dvr_window=float(window)), ladder,
                       state=state)
    stored: dict[str, asyncio.Future[float]] = {}
    put_playlist = dest.transfer.put_playlist

    async def timed_put(data: bytes, name: str) -> None:
        await put_playlist(data, name)
        waiter = stored.pop(name, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(time.perf_counter())

    dest.transfer.put_playlist = timed_put  # type: ignore[method-assign]
    figures: dict[str, float] = {}
    saves: list[float] = []

    async def persist() -> None:  # what the daemon's state loop does every second
        while True:
            await asyncio.sleep(1.0)
            started = time.perf_counter()
            text = await asyncio.to_thread(lambda: json.dumps(dest.snapshot().to_json()))
            saves.append(time.perf_counter() - started)
            figures["state_bytes"] = len(text)

    # Steady state: a daemon encodes a chunk of the saved index once, as it fills (or
    # takes it from the state it restored); the synthetic index has it done here, timed.
    started = time.perf_counter()
    json.dumps(dest.snapshot().to_json())
    figures["cold_save"] = time.perf_counter() - started
    latencies: list[float] = []
    async with asyncio.TaskGroup() as tg:
        runner = tg.create_task(dest.run())
        saver = tg.create_task(persist())
        await asyncio.sleep(0.2)
        loop = asyncio.get_running_loop()
        for i in range(segments):
            seq = window + i
            rung = rungs[i % len(rungs)]
            path = work / f"live_{rung}-{seq:05d}.ts"
            path.write_bytes(PAYLOAD * 10)
            seg = SegmentFile(rung, seq, path, 1.0, len(PAYLOAD) * 10, True, False,
                              now + timedelta(seconds=i))
            done = stored[ladder.variant_name(rung)] = loop.create_future()
            started = time.perf_counter()
            dest.offer(seg)
            latencies.append(await done - started)
            await asyncio.sleep(0.05)
        (www / "live.m3u8").write_text("#EXTM3U\n" + "".join(
            f"#EXT-X-STREAM-INF:BANDWIDTH=1000000\n{ladder.variant_name(r)}\n" for r in rungs))
        figures |= await ask_origin(ladder, dest, www, rungs[0], requests)
        saver.cancel()
        runner.cancel()
    figures |= {"publish_p50": pct(latencies, 50), "publish_p99": pct(latencies, 99),
                "save_p99": pct(saves, 99) if saves else 0.0}
    return figures


async def ask_origin(ladder: Ladder, dest: Destination, www: Path, rung: str,
                     requests: int) -> dict[str, float]:
    timeshift = TimeShift(ladder, cast(Any, SimpleNamespace(by_name={"www": dest})))
    timeshift.served = "www"
    origin = HttpOrigin(HttpSettings(port=0), www, Status(), timeshift=timeshift)
    await origin.start()
    figures: dict[str, float] = {}
    try:
        async with aiohttp.ClientSession() as client:
            for label, path in (("closed", f"{ladder.variant_name(rung)}?start=now-40&end=now-20"),
                                ("open", f"{ladder.variant_name(rung)}?start=now-30"),
                                ("master", "live.m3u8?start=now-30"),
                                ("whole", f"{ladder.variant_name(rung)}?start=now-86400")):
                times = []
                for _ in range(requests):
                    started = time.perf_counter()
                    async with client.get(origin.url + path,
                                          headers={"Accept-Encoding": "gzip"}) as answer:
                        await answer.read()
                        assert answer.status == 200, (path, answer.status)
                    times.append(time.perf_counter() - started)
                figures[f"{label}_p50"], figures[f"{label}_p99"] = pct(times, 50), pct(times, 99)
            figures |= await fresh_answers(client, origin.url + ladder.variant_name(rung),
                                           dest.listing.dvr[rung], requests)
    finally:
        await origin.stop()
    return figures


async def fresh_answers(client: aiohttp.ClientSession, url: str, index: DvrIndex,
                        requests: int) -> dict[str, float]:
    """The whole window's open span, full and as a delta update (`_HLS_skip=YES`), each
    asked right after a new segment is listed (so never a kept answer, as players
    reloading every target duration see it): time, and bytes on the wire (gzip) and not."""
    figures: dict[str, float] = {}
    for label, query in (("full", ""), ("delta", "&_HLS_skip=YES")):
        times = []
        for _ in range(max(1, requests // 5)):
            seq = index.seqs[-1] + 1
            index.add(Entry(seq, f"x-{seq}.ts", 1.0, program_date_time=datetime.fromtimestamp(
                index.starts[-1] + 1.0, UTC)))
            started = time.perf_counter()
            async with client.get(f"{url}?start=now-86400{query}",
                                  headers={"Accept-Encoding": "gzip"},
                                  auto_decompress=False) as answer:
                body = await answer.read()
                assert answer.status == 200, (query, answer.status)
            times.append(time.perf_counter() - started)
        async with client.get(f"{url}?start=now-86400{query}") as answer:
            text = await answer.read()
            assert (b"#EXT-X-SKIP:" in text) == bool(query), query
        figures |= {f"{label}_p50": pct(times, 50), f"{label}_p99": pct(times, 99),
                    f"{label}_gzip": float(len(body)), f"{label}_bytes": float(len(text))}
    return figures


def memory_per_hour() -> tuple[float, float]:
    """Bytes one rung's index holds per hour of 1 s segments: traced, and as it counts."""
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    index = index_of("ep_720p", 3600, datetime.now(UTC))
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    traced = sum(s.size_diff for s in after.compare_to(before, "filename"))
    return float(traced), float(index.memory())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segments", type=int, default=200)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--rungs", type=int, default=3)
    args = parser.parse_args()
    rungs = [f"ep_{i}" for i in range(args.rungs)]
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        # A first short round warms imports and sockets up, so neither window pays for it.
        asyncio.run(run_window(MINUTE, rungs, 20, 20, Path(tmp) / "warm"))
        for window in (MINUTE, DAY):
            results[window] = asyncio.run(
                run_window(window, rungs, args.segments, args.requests, Path(tmp)))
    small, large = results[MINUTE], results[DAY]
    print(f"{args.rungs} rungs, 1 s segments; {args.segments} segments published, "
          f"{args.requests} requests per kind")
    print(f"{'figure':<28}{'1 min window':>14}{'24 h window':>14}{'ratio':>8}")
    for key, label in (("publish_p50", "publish latency p50 (ms)"),
                       ("publish_p99", "publish latency p99 (ms)"),
                       ("closed_p50", "?start&end answer p50 (ms)"),
                       ("closed_p99", "?start&end answer p99 (ms)"),
                       ("open_p50", "?start= answer p50 (ms)"),
                       ("open_p99", "?start= answer p99 (ms)"),
                       ("master_p99", "master?start= p99 (ms)"),
                       ("whole_p50", "whole window, p50 (ms)"),
                       ("whole_p99", "whole window, p99 (ms)"),
                       ("full_p50", "new segment: full p50 (ms)"),
                       ("full_p99", "new segment: full p99 (ms)"),
                       ("delta_p50", "new segment: delta p50 (ms)"),
                       ("delta_p99", "new segment: delta p99 (ms)"),
                       ("save_p99", "state save p99 (ms)")):
        a, b = small[key] * 1000, large[key] * 1000
        print(f"{label:<28}{a:>14.2f}{b:>14.2f}{b / a if a else float('nan'):>8.2f}")
    for key, label in (("full_bytes", "full answer (kB)"), ("full_gzip", "  gzipped (kB)"),
                       ("delta_bytes", "delta answer (kB)"), ("delta_gzip", "  gzipped (kB)")):
        a, b = small[key] / 1000, large[key] / 1000
        print(f"{label:<28}{a:>14.2f}{b:>14.2f}{b / a if a else float('nan'):>8.2f}")
    print(f"{'state save, first (ms)':<28}{small['cold_save'] * 1000:>14.2f}"
          f"{large['cold_save'] * 1000:>14.2f}")
    print(f"{'state size (MB)':<28}{small['state_bytes'] / 1e6:>14.3f}"
          f"{large['state_bytes'] / 1e6:>14.3f}")
    traced, counted = memory_per_hour()
    print(f"memory per hour of window, per rung: {traced / 1e6:.2f} MB traced "
          f"({counted / 1e6:.2f} MB as the index counts it); 24 h x {args.rungs} rungs: "
          f"{traced * 24 * args.rungs / 1e6:.0f} MB")


if __name__ == "__main__":
    main()
