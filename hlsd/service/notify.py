"""The sd_notify protocol: tells systemd when hlsd is ready, reloading, stopping, alive.

systemd passes a datagram socket in NOTIFY_SOCKET (a path, or ``@name`` for the
abstract namespace) and, with WatchdogSec=, the deadline in WATCHDOG_USEC. Without
NOTIFY_SOCKET (a terminal, a container, the tests) every method is a silent no-op,
so the daemon calls them unconditionally.

A notification must never take the daemon down: the socket is non-blocking and send
errors are logged at DEBUG only (systemd gone, queue full: the next message repairs it).
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Callable, Mapping

import structlog

__all__ = ["Notifier", "format_status", "watchdog_loop"]

log = structlog.get_logger()


class Notifier:
    """One connection to the service manager; see ``from_env``."""

    def __init__(self, address: str | None, watchdog_usec: int | None = None) -> None:
        """`address` as in NOTIFY_SOCKET (None: no-op); `watchdog_usec` as in WATCHDOG_USEC."""
        self._address: str | None = None
        self._sock: socket.socket | None = None
        self._watchdog_usec = watchdog_usec if watchdog_usec and watchdog_usec > 0 else None
        if not address:
            return
        # A leading '@' names a socket in Linux's abstract namespace (a NUL byte there).
        self._address = "\0" + address[1:] if address.startswith("@") else address
        try:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            sock.setblocking(False)
        except OSError as exc:
            log.debug("sd_notify socket unavailable", error=str(exc))
            return
        self._sock = sock

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Notifier:
        """Read NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID (default: os.environ).

        The watchdog applies only when WATCHDOG_PID is unset or names this process:
        systemd sets it so that a child which inherited the environment stays quiet.
        """
        env = os.environ if environ is None else environ
        usec: int | None = None
        raw_pid = env.get("WATCHDOG_PID")
        for_us = raw_pid is None or raw_pid.strip() == str(os.getpid())
        if for_us:
            try:
                usec = int(env.get("WATCHDOG_USEC", ""))
            except ValueError:
                usec = None
        return cls(env.get("NOTIFY_SOCKET") or None, usec)

    @property
    def enabled(self) -> bool:
        """True when messages go somewhere (running under systemd with Type=notify*)."""
        return self._sock is not None

    @property
    def watchdog_interval(self) -> float | None:
        """Seconds between WATCHDOG=1 pings (half the deadline, as systemd advises); None: off."""
        if self._watchdog_usec is None or self._sock is None:
            return None
        return self._watchdog_usec / 2_000_000

    def ready(self, status: str | None = None) -> None:
        """Startup (or a reload) is complete: the rungs are running."""
        self._send("READY=1", *([f"STATUS={status}"] if status else []))

    def reloading(self) -> None:
        """A reload begins; Type=notify-reload needs the CLOCK_MONOTONIC stamp with it."""
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        self._send("RELOADING=1", f"MONOTONIC_USEC={usec}")

    def stopping(self) -> None:
        """Shutdown begins (graceful stop in progress)."""
        self._send("STOPPING=1")

    def status(self, text: str) -> None:
        """A one-line free-form status shown by `systemctl status`."""
        self._send(f"STATUS={text}")

    def watchdog(self) -> None:
        """Proof of life; call only while segments keep coming."""
        self._send("WATCHDOG=1")

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _send(self, *lines: str) -> None:
        if self._sock is None or self._address is None:
            return
        # Newlines separate assignments; a STATUS text must not smuggle in another one.
        data = "\n".join(line.replace("\n", " ") for line in lines).encode() + b"\n"
        try:
            self._sock.sendto(data, self._address)
        except OSError as exc:
            log.debug("sd_notify send failed", error=str(exc), message=lines[0])


def format_status(rungs_up: int, rungs_total: int, newest_age: float | None) -> str:
    """The STATUS= text: rungs running and the age of the newest segment."""
    age = "no segment yet" if newest_age is None else f"newest segment {newest_age:.1f}s ago"
    return f"{rungs_up}/{rungs_total} rungs up, {age}"


async def watchdog_loop(notifier: Notifier, alive: Callable[[], bool]) -> None:
    """Ping the watchdog every `watchdog_interval` while `alive()`; returns at once if off.

    `alive` is meant to be ``lambda: health().ok``: when no segment came for 3x
    segment_length the pings stop, and systemd restarts the stuck service.
    Runs until cancelled.
    """
    interval = notifier.watchdog_interval
    if interval is None:
        return
    while True:
        if alive():
            notifier.watchdog()
        await asyncio.sleep(interval)
