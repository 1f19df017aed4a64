"""Helpers for end-to-end tests that run the real `hlsd` CLI with real ffmpeg."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import yaml

FAST_X264 = "-c:v libx264 -preset ultrafast -tune zerolatency -pix_fmt yuv420p"


def lavfi_command(size: str = "320x180", rate: int = 25, audio: bool = True,
                  extra: str = "") -> str:
    """A live test-pattern encoder command (real time, small, cheap on 2 cores)."""
    cmd = f"ffmpeg -re -f lavfi -i testsrc2=size={size}:rate={rate}"
    if audio:
        cmd += " -re -f lavfi -i sine=frequency=440:sample_rate=48000"
    cmd += f" {FAST_X264} -b:v 300k {extra}"
    if audio:
        cmd += " -c:a aac -b:a 64k"
    return cmd + " -f mpegts -"


def make_source(path: Path, seconds: float, size: str = "320x180", gop: int | None = None,
                audio: bool = True) -> Path:
    """A finite H.264(+AAC) TS file made as fast as ffmpeg can."""
    argv = ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
            f"testsrc2=size={size}:rate=25:duration={seconds}"]
    if audio:
        argv += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}"]
    argv += FAST_X264.split()
    if gop:
        argv += ["-g", str(gop), "-keyint_min", str(gop), "-sc_threshold", "0"]
    if audio:
        argv += ["-c:a", "aac", "-b:a", "64k"]
    argv += ["-f", "mpegts", str(path)]
    subprocess.run(argv, check=True)
    return path


def probe_duration(path: Path | str, stream: str = "v:0") -> float:
    """Duration of a stream (or a playlist) as ffprobe measures it from packets."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", stream, "-show_entries",
         "packet=pts_time,duration_time", "-of", "csv=p=0", str(path)],
        capture_output=True, text=True, check=True).stdout
    times = []
    for line in out.split():
        parts = line.split(",")
        if parts[0] not in ("", "N/A"):
            dur = float(parts[1]) if len(parts) > 1 and parts[1] not in ("", "N/A") else 0.0
            times.append((float(parts[0]), dur))
    first = min(t for t, _ in times)
    last, last_dur = max(times)
    return last + last_dur - first


def write_config(path: Path, **settings: Any) -> Path:
    path.write_text(yaml.safe_dump(settings, sort_keys=False))
    return path


def hlsd_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "hlsd", *args]


@contextmanager
def running(config: Path, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`hlsd run CONFIG` in the background; killed (with its children) if a test fails."""
    with open(log, "ab") as out:
        proc = subprocess.Popen(hlsd_argv("run", str(config)), stdout=out,
                                stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            for child in descendants(proc.pid):
                _kill(child)
            proc.kill()
            proc.wait()


def _kill(pid: int) -> None:
    with suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def descendants(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid:
            found.append(int(entry.name))
            found.extend(descendants(int(entry.name)))
    return found


def process_name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


async def until(predicate: Callable[[], object], timeout: float = 10.0) -> None:
    """Await an observable condition that other tasks bring about, with a deadline."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


def wait_for(predicate: Callable[[], Any], timeout: float, what: str,
             interval: float = 0.2) -> Any:
    """Poll an observable condition (a file appearing, a playlist growing) with a deadline."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def read(path: Path) -> str | None:
    try:
        return path.read_text()
    except FileNotFoundError:
        return None


def extinfs(text: str) -> list[float]:
    return [float(line[8:].split(",")[0]) for line in text.splitlines()
            if line.startswith("#EXTINF:")]


def tag(text: str, name: str) -> str | None:
    for line in text.splitlines():
        if line.startswith(name + ":"):
            return line.split(":", 1)[1]
    return None
