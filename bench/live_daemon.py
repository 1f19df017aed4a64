"""A live `hlsd run` with its HTTP origin on a free loopback port, for the LL-HLS
benchmarks (bench/latency.py, bench/origin.py): the real daemon, real ffmpeg encoders."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.daemon_util import FAST_X264, descendants, read, running, wait_for, write_config

# A small live test picture per rung; video only (headless Chromium's stand-in audio
# sink runs slow under load, and latency would then grow with it).
SOURCE = "ffmpeg -re -f lavfi -i testsrc2=size=320x180:rate=25"
RUNGS = {"hi": f"{SOURCE} {FAST_X264} -b:v 300k -f mpegts -",
         "lo": f"{SOURCE} -s 192x108 {FAST_X264} -b:v 120k -f mpegts -"}


@dataclass(frozen=True)
class Daemon:
    url: str  # the origin, ending in "/"
    pid: int
    temp_dir: Path
    www: Path

    @property
    def port(self) -> int:
        return int(self.url.rstrip("/").rsplit(":", 1)[1])


def origin_url(log: Path) -> str | None:
    for line in (read(log) or "").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("event") == "http origin listening":
            return str(entry["url"])
    return None


@contextmanager
def launched(launcher: Path, config: Path, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`launcher run CONFIG`, a script standing in for `hlsd` (e.g. bench/aiohttp_origin.py);
    killed with its children if the run fails, as tests.daemon_util.running does."""
    with open(log, "ab") as out:
        proc = subprocess.Popen([sys.executable, str(launcher), "run", str(config)],
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            for child in descendants(proc.pid):
                with suppress(ProcessLookupError):
                    os.kill(child, signal.SIGKILL)
            proc.kill()
            proc.wait()


@contextmanager
def live_daemon(workdir: Path, *, segment: float, part: float | None,
                rungs: dict[str, str] | None = None,
                input_location: str = "lavfi", launcher: Path | None = None
                ) -> Iterator[Daemon]:
    """`part`: LL-HLS with parts of that length; None: regular HLS from the same origin.
    `input_location`: for rungs that read it (`-i %s`): the ingest stage then owns it.
    `launcher`: a script run in place of `hlsd` (see `launched`)."""
    rungs = rungs or RUNGS
    workdir.mkdir(parents=True, exist_ok=True)
    www, log = workdir / "www", workdir / "hlsd.log"
    extra: dict[str, Any] = {} if part is None else {"low_latency": {"part_length": part}}
    config = write_config(
        workdir / "hlsd.yaml", temp_dir=str(workdir / "work"), input_location=input_location,
        live=True, segment_length=segment, index_segment_count=6, segment_format="fmp4",
        encoding_profile=list(rungs), transfer_profile="www",
        http={"listen": "127.0.0.1", "port": 0},
        www={"transfer_type": "copy", "directory": str(www)}, **extra,
        **{name: {"ffmpeg_command": command} for name, command in rungs.items()})
    with (running(config, log) if launcher is None
          else launched(launcher, config, log)) as proc:
        url = wait_for(lambda: origin_url(log), 30, "the http origin")
        wait_for(lambda: (www / "live.m3u8").exists(), 30, "the master playlist")
        yield Daemon(url, proc.pid, workdir / "work", www)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
