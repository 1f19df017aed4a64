"""The daemon as a black box: its config file, the `hlsd run` process, its JSON log lines,
its children found through /proc, and the figures a fault test reports.

Nothing here imports hlsd: the daemon is driven through its CLI, signals and files.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from tests.daemon_util import descendants, hlsd_argv, lavfi_command, wait_for, write_config

SEGMENT = 1  # seconds: short segments keep every scenario cheap on 2 cores
WINDOW = 5  # index_segment_count

# Sampled by the player page itself every 100 ms: (wall s, currentTime); fatal hls.js
# errors. For page.evaluate() once the page plays.
START_SAMPLING = """() => {
  const v = document.querySelector('video');
  window.__samples = []; window.__fatal = [];
  window.hlsd.hls.on('hlsError', (_, d) => { if (d.fatal) window.__fatal.push(d.details); });
  window.__sampler = setInterval(() => window.__samples.push(
    [performance.now() / 1000, v.currentTime]), 100);
}"""


def live_rung(size: str = "160x90", rate: int = 10, audio: bool = False, extra: str = "") -> str:
    """A small live rung: a test pattern in real time (-re), x264 ultrafast, ~45 kB/s."""
    return lavfi_command(size=size, rate=rate, audio=audio, extra=extra)


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def fault_config(path: Path, tmp: Path, rungs: dict[str, str],
                 destinations: dict[str, dict[str, Any]], **settings: Any) -> Path:
    """A live config: rungs {name: ffmpeg_command}, destinations {name: profile}."""
    raw: dict[str, Any] = {
        "temp_dir": str(tmp / "work"), "input_location": "lavfi", "live": True,
        "segment_length": SEGMENT, "index_segment_count": WINDOW,
        "encoder_mode": "per_rung",
        "encoding_profile": list(rungs), "transfer_profile": list(destinations),
    }
    raw.update(settings)
    for name, command in rungs.items():
        raw[name] = {"ffmpeg_command": command}
    raw.update(destinations)
    return write_config(path, **raw)


def copy_profile(directory: Path) -> dict[str, Any]:
    return {"transfer_type": "copy", "directory": str(directory)}


# -- the daemon ---------------------------------------------------------------------------

@dataclass(frozen=True)
class ChildProcess:
    pid: int
    name: str  # /proc/PID/comm
    argv: list[str]
    started: int  # start time in clock ticks since boot: with the pid, names one process

    @property
    def state(self) -> str:
        """R, S, D, T (stopped), Z...; "" once gone."""
        try:
            return Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return ""


def _child(pid: int) -> ChildProcess | None:
    try:
        name = Path(f"/proc/{pid}/comm").read_text().strip()
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
        started = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None
    return ChildProcess(pid, name, argv[:-1] if argv and argv[-1] == "" else argv, started)


def _log_time(event: dict[str, Any]) -> float:
    """A log line's timestamp (UTC, ISO) on this process's monotonic clock."""
    wall = datetime.fromisoformat(str(event["timestamp"]).replace("Z", "+00:00")).timestamp()
    return wall - (time.time() - time.monotonic())


class Hlsd:
    """One `hlsd run CONFIG` at a time (start() again after a stop: same config, same log)."""

    def __init__(self, config: Path, log: Path, segment_prefix: str = "live",
                 env: dict[str, str] | None = None) -> None:
        self.config = config
        self.log = log
        self.segment_prefix = segment_prefix
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None
        self.runs = 0
        self._offset = 0  # bytes of the log already parsed
        self._events: list[dict[str, Any]] = []
        self._seen: dict[int, int] = {}  # every child seen: pid -> start time, for kill()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> Hlsd:
        assert self.proc is None or self.proc.poll() is not None, "already running"
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(hlsd_argv("run", str(self.config)), stdout=out,
                                         stderr=subprocess.STDOUT,
                                         env={**os.environ, **(self.env or {})})
        self.runs += 1
        return self

    def alive(self) -> None:
        """Raise (with the log's tail) if the daemon has exited."""
        assert self.proc is not None
        code = self.proc.poll()
        assert code is None, f"hlsd exited with {code}:\n{self.tail()}"

    def tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:]

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60.0) -> int:
        """Send `sig` and wait for the exit code."""
        assert self.proc is not None
        self.proc.send_signal(sig)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        """Teardown: the daemon and every child, stopped ones too, by PID; children seen
        earlier are killed too if they still run (orphaned by a daemon that died)."""
        if self.proc is not None and self.proc.poll() is None:
            self.children()
            for pid in descendants(self.proc.pid):
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)  # also ends a SIGSTOPped process
            self.proc.kill()
            self.proc.wait()
        for pid, started in self._seen.items():
            child = _child(pid)
            if child is not None and child.started == started:  # the same process, not a
                with suppress(ProcessLookupError):  # later one that got its pid
                    os.kill(pid, signal.SIGKILL)

    # -- log ------------------------------------------------------------------------------
    def events(self, since: float = 0.0, until: float = float("inf"),
               **match: Any) -> list[dict[str, Any]]:
        """JSON log lines (each with "at": monotonic time) in [since, until] whose fields
        equal `match`; `event=` may be a callable predicate on the message."""
        with open(self.log, "rb") as fh:
            fh.seek(self._offset)
            chunk = fh.read()
        complete = chunk.rfind(b"\n") + 1
        self._offset += complete
        for line in chunk[:complete].splitlines():
            with suppress(ValueError):
                event = json.loads(line)
                if isinstance(event, dict) and "timestamp" in event:
                    event["at"] = _log_time(event)
                    self._events.append(event)
        found = []
        for e in self._events:
            if not since <= e["at"] <= until:
                continue
            if all(v(e.get(k)) if callable(v) else e.get(k) == v for k, v in match.items()):
                found.append(e)
        return found

    def wait_event(self, timeout: float, what: str, since: float = 0.0,
                   **match: Any) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            self.alive()
            events = self.events(since, **match)
            return events[0] if events else None

        result: dict[str, Any] = wait_for(found, timeout, what, interval=0.05)
        return result

    # -- children -------------------------------------------------------------------------
    def children(self) -> list[ChildProcess]:
        found = [c for c in map(_child, descendants(self.pid)) if c is not None]
        self._seen.update((c.pid, c.started) for c in found)
        return found

    def segmenter(self, rung: str) -> ChildProcess | None:
        prefix = f"{self.segment_prefix}_{rung}"
        for child in self.children():
            if child.name == "hlsd-segmenter" and _arg(child.argv, "--prefix") == prefix:
                return child
        return None

    def pipeline(self, rung: str) -> tuple[ChildProcess, ChildProcess] | None:
        """(encoder, segmenter) of a rung: the ffmpeg whose stdout is the segmenter's stdin."""
        segmenter = self.segmenter(rung)
        if segmenter is None:
            return None
        try:
            pipe = os.readlink(f"/proc/{segmenter.pid}/fd/0")
        except OSError:
            return None
        for child in self.children():
            if child.name != "ffmpeg":
                continue
            with suppress(OSError):
                if os.readlink(f"/proc/{child.pid}/fd/1") == pipe:
                    return child, segmenter
        return None

    def stopped_children(self) -> list[ChildProcess]:
        return [c for c in self.children() if c.state == "T"]


def _arg(argv: list[str], name: str) -> str | None:
    with suppress(ValueError, IndexError):
        return argv[argv.index(name) + 1]
    return None


def warnings_about(events: list[dict[str, Any]], **match: Any) -> list[dict[str, Any]]:
    """The lines at WARNING or above among `events` whose fields equal `match`."""
    return [e for e in events if e.get("level") in ("warning", "error", "critical")
            and all(e.get(k) == v for k, v in match.items())]


def observe(seconds: float, *checks: Callable[[], None]) -> None:
    """Let a fault last `seconds` (an observation window, not a wait for an event),
    checking the invariants every 0.1 s so a broken one fails at once."""
    end = time.monotonic() + seconds
    while True:
        for check in checks:
            check()
        left = end - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(0.1, left))


# -- figures ------------------------------------------------------------------------------

@dataclass
class Figures:
    """The measured figures of one scenario: printed, kept for the terminal summary."""

    scenario: str
    values: dict[str, Any]

    def line(self) -> str:
        return f"{self.scenario}: " + ", ".join(f"{k}={_fmt(v)}" for k, v in self.values.items())


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, list | tuple):
        return "[" + " ".join(_fmt(v) for v in value) + "]"
    return str(value)
