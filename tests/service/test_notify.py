"""sd_notify messages as systemd would receive them, on a real datagram socket."""

from __future__ import annotations

import asyncio
import os
import re
import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog.testing

from hlsd.service.notify import Notifier, format_status, watchdog_loop


class FakeSystemd:
    """The service manager's end: a bound AF_UNIX datagram socket."""

    def __init__(self, sock: socket.socket, env_value: str) -> None:
        self.sock = sock
        self.env_value = env_value  # what NOTIFY_SOCKET would hold

    def receive(self) -> list[str]:
        data = self.sock.recv(4096)
        assert data.endswith(b"\n")
        return data.decode().splitlines()

    def pending(self) -> bool:
        readable, _, _ = select.select([self.sock], [], [], 0)
        return bool(readable)


@pytest.fixture(params=["path", "abstract"])
def systemd(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FakeSystemd]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.settimeout(5)
    if request.param == "path":
        path = tmp_path / "notify"
        sock.bind(str(path))
        env_value = str(path)
    else:
        name = f"hlsd-test-{os.getpid()}-{time.monotonic_ns()}"
        sock.bind("\0" + name)
        env_value = "@" + name
    yield FakeSystemd(sock, env_value)
    sock.close()


def test_lifecycle_messages_arrive_in_order(systemd: FakeSystemd) -> None:
    """1. start, 2. ready with status, 3. status, 4. reload, 5. ready, 6. stop."""
    n = Notifier.from_env({"NOTIFY_SOCKET": systemd.env_value})
    assert n.enabled
    n.ready("2/2 rungs up, no segment yet")
    n.status("2/2 rungs up, newest segment 1.2s ago")
    before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    n.reloading()
    after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    n.ready()
    n.stopping()
    n.close()

    assert systemd.receive() == ["READY=1", "STATUS=2/2 rungs up, no segment yet"]
    assert systemd.receive() == ["STATUS=2/2 rungs up, newest segment 1.2s ago"]
    reload = systemd.receive()
    assert reload[0] == "RELOADING=1"
    m = re.fullmatch(r"MONOTONIC_USEC=(\d+)", reload[1])
    assert m, reload
    assert before <= int(m.group(1)) <= after  # CLOCK_MONOTONIC in microseconds
    assert systemd.receive() == ["READY=1"]
    assert systemd.receive() == ["STOPPING=1"]
    assert not systemd.pending()


def test_status_cannot_inject_another_assignment(systemd: FakeSystemd) -> None:
    n = Notifier.from_env({"NOTIFY_SOCKET": systemd.env_value})
    n.status("evil\nREADY=1")
    assert systemd.receive() == ["STATUS=evil READY=1"]


def test_watchdog_interval_is_half_the_deadline(systemd: FakeSystemd) -> None:
    env = {"NOTIFY_SOCKET": systemd.env_value, "WATCHDOG_USEC": "30000000"}
    n = Notifier.from_env(env)
    assert n.watchdog_interval == 15.0
    n.watchdog()
    assert systemd.receive() == ["WATCHDOG=1"]

    mine = Notifier.from_env({**env, "WATCHDOG_PID": str(os.getpid())})
    assert mine.watchdog_interval == 15.0
    # systemd addressed the watchdog to another process (we inherited its environment)
    other = Notifier.from_env({**env, "WATCHDOG_PID": str(os.getpid() + 1)})
    assert other.watchdog_interval is None
    assert Notifier.from_env({"NOTIFY_SOCKET": systemd.env_value}).watchdog_interval is None


def test_without_notify_socket_everything_is_a_no_op() -> None:
    n = Notifier.from_env({"WATCHDOG_USEC": "1000000"})
    assert not n.enabled
    assert n.watchdog_interval is None
    n.ready("x")
    n.reloading()
    n.status("y")
    n.watchdog()
    n.stopping()
    n.close()


def test_from_env_reads_os_environ(systemd: FakeSystemd,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", systemd.env_value)
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    Notifier.from_env().ready()
    assert systemd.receive() == ["READY=1"]


def test_send_errors_never_raise(tmp_path: Path) -> None:
    """The socket's path does not exist (systemd went away): messages are dropped."""
    n = Notifier.from_env({"NOTIFY_SOCKET": str(tmp_path / "gone")})
    assert n.enabled
    n.ready()
    n.watchdog()
    n.close()
    n.stopping()  # after close too


def test_send_never_blocks_on_a_full_queue(systemd: FakeSystemd) -> None:
    """Nobody reads the socket: once its queue is full, sends fail at once, logged at DEBUG."""
    n = Notifier.from_env({"NOTIFY_SOCKET": systemd.env_value})
    start = time.monotonic()
    with structlog.testing.capture_logs() as logged:
        for _ in range(2000):  # far more than a datagram queue holds (max_dgram_qlen)
            n.status("x" * 200)
    assert time.monotonic() - start < 5
    assert logged and all(e["log_level"] == "debug" for e in logged)
    assert logged[0]["event"] == "sd_notify send failed"


async def test_watchdog_loop_pings_only_while_alive(systemd: FakeSystemd) -> None:
    """1. alive: a ping arrives, 2. not alive for three checks: none, 3. alive: pings resume."""
    n = Notifier(systemd.env_value, watchdog_usec=20_000)  # a check every 10 ms
    healthy = True
    dead_checks = 0
    three_dead_checks = asyncio.Event()

    def alive() -> bool:
        nonlocal dead_checks
        if not healthy:
            dead_checks += 1
            if dead_checks >= 3:
                three_dead_checks.set()
        return healthy

    task = asyncio.create_task(watchdog_loop(n, alive))
    loop = asyncio.get_running_loop()
    try:
        assert await loop.run_in_executor(None, systemd.receive) == ["WATCHDOG=1"]
        healthy = False
        while systemd.pending():  # pings sent before the change
            systemd.receive()
        await asyncio.wait_for(three_dead_checks.wait(), 5)
        assert not systemd.pending()
        healthy = True
        assert await loop.run_in_executor(None, systemd.receive) == ["WATCHDOG=1"]
    finally:
        task.cancel()
    await asyncio.wait_for(watchdog_loop(Notifier(None), alive), 1)  # off: returns at once


def test_format_status() -> None:
    assert format_status(2, 3, None) == "2/3 rungs up, no segment yet"
    assert format_status(3, 3, 1.25) == "3/3 rungs up, newest segment 1.2s ago"
