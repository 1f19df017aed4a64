"""Fixtures of the fault-injection tests: daemons, a live UDP source, tmpfs mounts, and
the figures each scenario reports (printed, and summed up at the end of the run)."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable, Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

import pytest

from tests.daemon_util import FAST_X264, descendants
from tests.faults.harness import Figures, Hlsd

FIGURES = pytest.StashKey[list[Figures]]()


@pytest.fixture
def report(request: pytest.FixtureRequest,
           record_property: Callable[[str, object], None]) -> Callable[..., None]:
    """`report("scenario", figure=value, ...)`: one line in the run's "fault figures"."""

    def add(scenario: str, **values: Any) -> None:
        figures = Figures(scenario, values)
        request.config.stash.setdefault(FIGURES, []).append(figures)
        record_property(scenario, figures.line())
        print(figures.line())

    return add


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    figures = config.stash.get(FIGURES, [])
    if figures:
        terminalreporter.section("fault figures")
        for f in figures:
            terminalreporter.write_line(f.line())


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return ""


@pytest.fixture
def daemons() -> Iterator[Callable[..., Hlsd]]:
    """Factory `daemons(config, log)` -> Hlsd (not started). Teardown kills each daemon
    and its children by PID, then fails if any process of this test is left stopped
    (SIGSTOP): a test must not leave a hang behind."""
    made: list[Hlsd] = []

    def make(config: Path, log: Path, **options: Any) -> Hlsd:
        hlsd = Hlsd(config, log, **options)
        made.append(hlsd)
        return hlsd

    yield make
    for hlsd in made:
        hlsd.kill()
    stopped = [p for p in descendants(os.getpid()) if _state(p) == "T"]
    for pid in stopped:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)
            os.kill(pid, signal.SIGKILL)
    assert not stopped, f"processes left stopped: {stopped}"


class UdpSender:
    """A live MPEG-TS source on UDP: ffmpeg sending a test pattern to 127.0.0.1:port."""

    def __init__(self, port: int, log: Path) -> None:
        self.port = port
        self.url = f"udp://127.0.0.1:{port}"
        self._log = log
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        assert self._proc is None, "sender already running"
        # A keyframe every second, so a receiver that starts mid-stream decodes at once.
        argv = ["ffmpeg", "-nostdin", "-v", "error", "-re", "-f", "lavfi",
                "-i", "testsrc2=size=160x90:rate=10", *FAST_X264.split(), "-g", "10",
                "-b:v", "300k", "-f", "mpegts", f"{self.url}?pkt_size=1316"]
        with self._log.open("ab") as log:
            self._proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                          stderr=log)

    def stop(self) -> None:
        """The source disappears at once (SIGKILL: no goodbye packets)."""
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.kill()
            proc.wait()


@pytest.fixture
def udp_sender(tmp_path: Path) -> Iterator[Callable[[int], UdpSender]]:
    senders: list[UdpSender] = []

    def make(port: int) -> UdpSender:
        sender = UdpSender(port, tmp_path / f"udp-sender-{port}.log")
        senders.append(sender)
        sender.start()
        return sender

    yield make
    for sender in senders:
        sender.stop()


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Callable[[str, str], Path]]:
    """Factory `tmpfs(name, size)` -> a fresh tmpfs mounted at tmp_path/name (root only;
    skips where mounting is not allowed). Unmounted after the test."""
    mounted: list[Path] = []

    def mount(name: str, size: str) -> Path:
        if os.geteuid() != 0:
            pytest.skip("needs root to mount a tmpfs")
        point = tmp_path / name
        point.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755",
                               "hlsd-test", str(point)], capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        mounted.append(point)
        return point

    yield mount
    for point in reversed(mounted):
        if subprocess.run(["umount", str(point)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(point)], check=False)
