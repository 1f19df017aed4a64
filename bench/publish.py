"""Publishing latency per backend, and how many rungs one daemon's publisher sustains.

    python bench/publish.py [--quick] [--only copy,ftp,sftp,s3] [--rungs 50,100,200]

(a) Latency, per backend, on loopback, with ~2 MB segments: a real
    `hlsd.publisher.Destination` with the real Transfer backend against a real local
    server (pyftpdlib, OpenSSH sshd, moto's S3 server in its own process) is offered one
    `SegmentFile` at a time; latency runs from `offer()` to the moment the variant
    playlist naming that segment has been stored at the destination. It is measured by
    instrumenting the transfer: `put_playlist` is wrapped, and its return (rename done,
    PUT answered) is the moment the playlist is readable there.
(b) Rung scaling: one copy destination, N simulated rungs each producing a segment every
    2 s (staggered evenly), each announced to the real `Intake` as the segmenter would;
    latency from the announcement to the playlist naming it stored; p99 per N, and the
    largest N whose p99 stays within one second. Run twice side by side: clear, and
    AES-128 encrypted (a key ring rotating every 10 segments, keys to a copy
    destination) — the ratio of the p99s is the cost of encryption.
(c) Encryption throughput: `encrypt_file` on one core against a plain file copy of the
    same segments.

Needs the test dependencies (pyftpdlib, moto, OpenSSH server); runs as root for sshd.
Every server binds 127.0.0.1 and is stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hlsd.config import (
    CopyProfile,
    EncryptionSettings,
    FtpProfile,
    S3Profile,
    Secret,
    SshProfile,
)
from hlsd.encode.events import SegmentReady
from hlsd.media.ladder import Ladder, RungMedia
from hlsd.publish.cipher import encrypt_file
from hlsd.publish.destination import Destination
from hlsd.publish.destinations import DestinationSet
from hlsd.publish.intake import Intake
from hlsd.publish.keys import KeyRing, KeyState
from hlsd.publish.segment import SegmentFile
from hlsd.publish.settings import PublishSettings
from hlsd.publish.transfer import Transfer, create
from hlsd.service import logs
from hlsd.service.metrics import Metrics

SEGMENT_BYTES = 2 * 1024 * 1024
SEGMENT_LENGTH = 2.0
LATENCY_GOALS = {"copy": 0.020, "ftp": 0.250, "sftp": 0.250, "s3": 0.250}
RUNG_GOAL = 200
P99_LIMIT = 1.0
SCALING_BYTES = 188 * 1064  # ~200 kB: a 800 kbit/s rung's 2 s (copy hard-links them)
ENCRYPTED_P99_GOAL = 1.5  # encrypted p99 within 1.5x of the clear run at RUNG_GOAL rungs


# -- measurement ---------------------------------------------------------------------------
@dataclass
class Clock:
    """Offer times by (rung, seq); latencies recorded when a playlist naming them is stored."""

    offered: dict[tuple[str, int], float] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    recording: bool = True
    published: asyncio.Event = field(default_factory=asyncio.Event)

    segment_puts: list[float] = field(default_factory=list)  # where the time goes
    playlist_puts: list[float] = field(default_factory=list)

    def instrument(self, transfer: Transfer, rung_of: Callable[[str], str | None]) -> None:
        put = transfer.put_playlist
        put_segment = transfer.put_segment

        async def timed_segment(local: Path, name: str) -> None:
            started = time.perf_counter()
            await put_segment(local, name)
            if self.recording:
                self.segment_puts.append(time.perf_counter() - started)

        async def timed(data: bytes, name: str) -> None:
            started = time.perf_counter()
            await put(data, name)
            now = time.perf_counter()
            if self.recording:
                self.playlist_puts.append(now - started)
            rung = rung_of(name)
            if rung is None:
                return  # the master playlist
            last = data.rstrip().rsplit(b"\n", 1)[-1]
            if not last.endswith(b".ts"):
                return
            seq = int(last[:-3].rsplit(b"-", 1)[1])
            # Catching up publishes several segments at once: each is done now.
            for key in [k for k in self.offered if k[0] == rung and k[1] <= seq]:
                started = self.offered.pop(key)
                if self.recording:
                    self.latencies.append(now - started)
            self.published.set()

        transfer.put_playlist = timed  # type: ignore[method-assign]
        transfer.put_segment = timed_segment  # type: ignore[method-assign]


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def make_destination(transfer: Transfer, rungs: list[str], concurrency: int,
                     ) -> Destination:
    """Call inside the event loop: its lanes are tasks."""
    ladder = Ladder("live", 6)
    ladder.set_rungs({r: 500_000 for r in rungs})
    for rung in rungs:
        ladder.describe(rung, RungMedia("avc1.64001f", (1280, 720), 25.0))
    settings = PublishSettings(target_duration=2, window=6, segment_length=SEGMENT_LENGTH,
                               url_prefix="")
    dest = Destination(transfer, concurrency, settings, ladder)
    for rung in rungs:  # as the daemon does when it starts a rung; lanes wait for open()
        dest.add_rung(rung)
    return dest


def segment(workdir: Path, rung: str, seq: int, payload: bytes) -> SegmentFile:
    path = workdir / f"live_{rung}-{seq:05d}.ts"
    path.write_bytes(payload)
    seg = SegmentFile(rung=rung, seq=seq, path=path, duration=SEGMENT_LENGTH,
                      nbytes=len(payload), independent=True, discontinuity=False,
                      program_date_time=datetime.now(UTC))
    seg.hold()
    return seg


# -- (a) latency per backend ---------------------------------------------------------------
async def latency(transfer: Transfer, concurrency: int, workdir: Path, count: int,
                  ) -> Clock:
    """Offer one 2 MB segment at a time (after the previous is visible, plus a short gap)."""
    dest = make_destination(transfer, ["ep"], concurrency)
    clock = Clock()
    clock.instrument(transfer, lambda name: "ep" if name == "live_ep.m3u8" else None)
    runner = asyncio.create_task(dest.run())
    payload = os.urandom(SEGMENT_BYTES)
    warmup = 3
    try:
        for seq in range(count + warmup):
            clock.recording = seq >= warmup  # first connections and directory creation
            seg = segment(workdir, "ep", seq, payload)
            clock.published.clear()
            clock.offered[("ep", seq)] = time.perf_counter()
            dest.offer(seg)
            async with asyncio.timeout(30):
                while ("ep", seq) in clock.offered:
                    await clock.published.wait()
                    clock.published.clear()
            await asyncio.sleep(0.05)
    finally:
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner
    return clock


# -- (b) rung scaling ----------------------------------------------------------------------
async def scaling(rungs: int, directory: Path, workdir: Path, cycles: int,
                  encrypted: bool) -> tuple[float, float]:
    """p50/p99 with `rungs` rungs, each announcing a segment every 2 s, evenly staggered,
    through the real Intake (which encrypts, when on, off the event loop)."""
    names = [f"r{i:03d}" for i in range(rungs)]
    transfer = create(CopyProfile(name="copy", directory=directory))
    dest = make_destination(transfer, names, CopyProfile.concurrency)
    destinations = DestinationSet(dest.ladder, Metrics(), 2)
    destinations.include(dest)
    keys = KeyRing(EncryptionSettings(
        key_transfer_profiles=(CopyProfile("keys", directory / "keys"),), key_rotation=10),
        workdir / "keys", "live", KeyState(), horizon=0, grace=0.0) if encrypted else None
    intake = Intake(workdir, dest.ladder, destinations, Metrics(), keys)
    clock = Clock()
    prefix, suffix = "live_", ".m3u8"
    clock.instrument(transfer, lambda n: n[len(prefix):-len(suffix)]
                     if n.startswith(prefix + "r") else None)
    payload = b"\x47" + os.urandom(SCALING_BYTES - 1)
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.2
    step = SEGMENT_LENGTH / rungs
    for rung in names:
        (workdir / rung).mkdir(parents=True, exist_ok=True)
    try:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(dest.run())
            if keys is not None:
                tg.create_task(keys.run())
            for cycle in range(cycles + 1):
                clock.recording = cycle > 0  # the first cycle creates every variant playlist
                for i, rung in enumerate(names):
                    due = start + cycle * SEGMENT_LENGTH + i * step
                    delay = due - loop.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    path = workdir / rung / f"live_{rung}-{cycle:05d}.ts"
                    path.write_bytes(payload)
                    clock.offered[(rung, cycle)] = time.perf_counter()
                    # Each rung's segmenter reader awaits the intake on its own.
                    tg.create_task(intake.event(rung, SegmentReady(
                        seq=cycle, file=str(path), duration=SEGMENT_LENGTH, pts=0,
                        bytes=len(payload), keyframe=True)))
            async with asyncio.timeout(30):
                while clock.offered:
                    await clock.published.wait()
                    clock.published.clear()
            raise _Done
    except* _Done:
        pass
    return percentile(clock.latencies, 50), percentile(clock.latencies, 99)


class _Done(Exception):
    """Ends a measurement's TaskGroup (the destination and key ring run until cancelled)."""


# -- (c) encryption throughput -------------------------------------------------------------
def throughput(workdir: Path, files: int) -> tuple[float, float]:
    """MB/s of encrypt_file and of a plain copy (read + write) over the same ~2 MB files."""
    paths = []
    for i in range(files):
        path = workdir / f"enc-{i}.ts"
        path.write_bytes(os.urandom(SEGMENT_BYTES))
        paths.append(path)
    started = time.perf_counter()
    for path in paths:
        shutil.copyfile(path, path.with_suffix(".copy"))
    copy = time.perf_counter() - started
    started = time.perf_counter()
    for path in paths:
        encrypt_file(path, os.urandom(16), os.urandom(16))
    enc = time.perf_counter() - started
    total = files * SEGMENT_BYTES / 1e6
    return total / enc, total / copy


# -- servers -------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def ftp_server(base: Path) -> Iterator[FtpProfile]:
    from tests.fixtures.ftp_server import FtpServer

    root = base / "ftp-root"
    root.mkdir()
    server = FtpServer(root, base / "ftp.log")
    server.start()
    try:
        yield FtpProfile(name="ftp", remote_host=server.host, port=server.port,
                         user_name=server.user, password=Secret(server.password),
                         directory="/live")
    finally:
        server.stop()


@contextlib.contextmanager
def sftp_server(base: Path) -> Iterator[SshProfile]:
    from tests.fixtures.ssh_server import SshdServer, SshKeys

    keys_dir = base / "keys"
    keys_dir.mkdir()
    for name in ("host", "client"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                        str(keys_dir / name)], check=True)
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(mode=0o755, parents=True, exist_ok=True)
    host_line = " ".join((keys_dir / "host.pub").read_text().split()[:2])
    keys = SshKeys(keys_dir / "host", host_line, keys_dir / "client", None, None)
    workdir = base / "sshd"
    workdir.mkdir()
    root = base / "sftp-root"
    root.mkdir()
    server = SshdServer(keys, workdir, root)
    server.start()
    try:
        yield SshProfile(name="sftp", transfer_type="sftp", remote_host=server.host,
                         port=server.port, user_name=server.user,
                         key_file=keys.client_key, host_key=host_line,
                         directory=str(root / "live"))
    finally:
        server.stop()


@contextlib.contextmanager
def s3_server(base: Path) -> Iterator[S3Profile]:
    """moto in its own process, so its request handling does not share our GIL."""
    port = free_port()
    log = (base / "moto.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p",
                             str(port)], stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(url + "/moto-api/", timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("moto server did not start") from None
                time.sleep(0.1)
        urllib.request.urlopen(urllib.request.Request(url + "/bench", method="PUT"),
                               timeout=5).close()  # create the bucket
        yield S3Profile(name="s3", bucket_name="bench", key_prefix="live/", endpoint_url=url,
                        region="us-east-1", addressing_style="path",
                        aws_api_key=Secret("testing"), aws_api_secret=Secret("testing"))
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


# -- main ----------------------------------------------------------------------------------
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples, fewer steps")
    parser.add_argument("--only", default="copy,ftp,sftp,s3", help="backends for (a)")
    parser.add_argument("--rungs", default=None, help="rung counts for (b), e.g. 50,100,200")
    args = parser.parse_args()
    logs.configure("ERROR", stream=sys.stderr)
    for var in [v for v in os.environ if v.startswith("AWS_")]:
        del os.environ[var]  # only the explicit test keys, never a developer's profile
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    count = 20 if args.quick else 100
    steps = [int(n) for n in args.rungs.split(",")] if args.rungs else (
        [100, 200, 300] if args.quick else [50, 100, 200, 300, 400, 500])
    cycles = 2 if args.quick else 4

    base = Path(tempfile.mkdtemp(prefix="hlsd-bench-"))
    base.chmod(0o755)
    rows: list[tuple[str, int, float, float, float, str, float, float, float]] = []
    try:
        servers: dict[str, Callable[[Path], contextlib.AbstractContextManager[Any]]] = {
            "copy": lambda b: contextlib.nullcontext(
                CopyProfile(name="copy", directory=b / "www")),
            "ftp": ftp_server, "sftp": sftp_server, "s3": s3_server}
        for backend in args.only.split(","):
            work = base / f"work-{backend}"
            work.mkdir()
            with servers[backend](base) as profile:
                transfer = create(profile)
                clock = asyncio.run(latency(transfer, profile.concurrency, work, count))
            values = clock.latencies
            p50, p99 = percentile(values, 50), percentile(values, 99)
            goal = LATENCY_GOALS[backend]
            rows.append((backend, len(values), p50, p99, goal,
                         "ok" if p99 <= goal else "MISSED",
                         percentile(clock.segment_puts, 99),
                         percentile(clock.playlist_puts, 99), max(values)))
            print(f"  measured {backend}", file=sys.stderr)

        scale: list[tuple[int, float, float, float, float]] = []
        for n in steps:
            runs = []
            for encrypted in (False, True):  # side by side, same machine state
                www = base / f"scale-{n}-{encrypted}"
                work = base / f"scale-work-{n}-{encrypted}"
                work.mkdir()
                runs.append(asyncio.run(scaling(n, www, work, cycles, encrypted)))
                shutil.rmtree(www, ignore_errors=True)
                shutil.rmtree(work, ignore_errors=True)
            scale.append((n, *runs[0], *runs[1]))
            print(f"  measured {n} rungs", file=sys.stderr)
        work = base / "throughput"
        work.mkdir()
        enc_rate, copy_rate = throughput(work, 10 if args.quick else 50)
    finally:
        shutil.rmtree(base, ignore_errors=True)

    print("(a) latency: offer() -> variant playlist naming the segment stored at the "
          "destination")
    print(f"    ~{SEGMENT_BYTES / 1e6:.1f} MB segments, loopback, one at a time; measured by "
          "wrapping the transfer's put_playlist (its return = readable there)")
    print(f"    {'backend':8} {'n':>4} {'p50 ms':>8} {'p99 ms':>8} {'goal p99':>9}  {'result':6}"
          f" {'max ms':>8} {'p99 seg put':>12} {'p99 playlist put':>17}")
    for backend, n, p50, p99, goal, verdict, seg99, pl99, worst in rows:
        print(f"    {backend:8} {n:>4} {p50 * 1e3:>8.1f} {p99 * 1e3:>8.1f} "
              f"{'≤ ' + format(goal * 1e3, '.0f') + ' ms':>9}  {verdict:6} {worst * 1e3:>8.1f}"
              f" {seg99 * 1e3:>12.1f} {pl99 * 1e3:>17.1f}")
    print()
    print(f"(b) rung scaling: copy destination, every rung a segment every {SEGMENT_LENGTH:g} s "
          f"(staggered), {cycles} cycles after a warm-up cycle, {SCALING_BYTES} B files, "
          "clear and AES-128 side by side")
    print(f"    {'rungs':>6} {'p50 ms':>8} {'p99 ms':>8} {'enc p50':>8} {'enc p99':>8} "
          f"{'p99 ratio':>9}  within {P99_LIMIT:g} s")
    sustained = 0
    ratio_at_goal = None
    for n, p50, p99, ep50, ep99 in scale:
        ok = max(p99, ep99) <= P99_LIMIT
        if ok:
            sustained = max(sustained, n)
        ratio = ep99 / p99 if p99 else float("nan")
        if n == RUNG_GOAL:
            ratio_at_goal = ratio
        print(f"    {n:>6} {p50 * 1e3:>8.1f} {p99 * 1e3:>8.1f} {ep50 * 1e3:>8.1f} "
              f"{ep99 * 1e3:>8.1f} {ratio:>8.2f}x  {'yes' if ok else 'no'}")
    verdict = "ok" if sustained >= RUNG_GOAL else "MISSED"
    print(f"    largest N tried with p99 ≤ {P99_LIMIT:g} s (clear and encrypted): {sustained} "
          f"(goal ≥ {RUNG_GOAL}): {verdict}")
    if ratio_at_goal is not None:
        print(f"    encrypted p99 / clear p99 at {RUNG_GOAL} rungs: {ratio_at_goal:.2f}x "
              f"(goal ≤ {ENCRYPTED_P99_GOAL}x): "
              f"{'ok' if ratio_at_goal <= ENCRYPTED_P99_GOAL else 'MISSED'}")
    print()
    print(f"(c) encryption throughput, one core, ~{SEGMENT_BYTES / 1e6:.1f} MB segments: "
          f"AES-128-CBC {enc_rate:.0f} MB/s, plain copy {copy_rate:.0f} MB/s "
          f"({enc_rate / copy_rate:.2f}x of a copy)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
