"""Running one child: argv only, stderr kept in a ring buffer, stop = TERM → grace → KILL.

The task that drains a child's stderr runs in the TaskGroup of whoever spawned it, so
it never outlives its owner and an error in it is never lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import structlog

from hlsd.config.secret import redact_text

log = structlog.get_logger()

# What ffmpeg says on the way to a failure that is not the reason: its banner and build
# (indented), stream listings, progress, and the closing words of any failure.
NOT_A_REASON = re.compile(r"^(\s|ffmpeg version |Input #|Output #|Stream mapping:|Press \[q\]|"
                          r"frame=|size=|video:|Conversion failed!|Exiting normally)")
# What a reason says: ffmpeg's (and the OS's) words for a failure.
REASON = re.compile(r"error|no such|denied|invalid|fail|refused|timed out|not found|unknown|"
                    r"could not|cannot|unable|unsupported|not supported|broken pipe|"
                    r"unreachable|reset by peer|no space|i/o", re.IGNORECASE)
ADDRESS = re.compile(r" @ 0x[0-9a-f]+")  # "[in#0 @ 0x55d5c5f3a6c0]": an address says nothing


def exit_reason(lines: Iterable[str]) -> dict[str, str]:
    """Log fields for why a child (ffmpeg above all) ended, from its stderr's last lines:
    `error`, its last line that says why ("/srv/film.mp4: No such file or directory"),
    not the banner before it; else `stderr_tail`, its last three lines."""
    lines = list(lines)
    for line in reversed(lines):
        if REASON.search(line) and not NOT_A_REASON.match(line):
            return {"error": ADDRESS.sub("", line.strip())}
    return {"stderr_tail": "\n".join(lines[-3:])} if lines else {}


class Child:
    """A started child. Its stderr is drained into `tail` (and DEBUG logs) as it comes."""

    def __init__(self, proc: asyncio.subprocess.Process, label: str, tg: asyncio.TaskGroup,
                 tail_lines: int = 40, log_stderr: Callable[[str], None] | None = None) -> None:
        self.proc = proc
        self.label = label
        self.tail: deque[str] = deque(maxlen=tail_lines)
        self._log_stderr = log_stderr
        self._stderr_task = tg.create_task(self._drain_stderr(), name=f"stderr {label}")

    @classmethod
    async def spawn(cls, argv: list[str], label: str, tg: asyncio.TaskGroup, *,
                    stdin: Any = None, stdout: Any = None, pass_fds: tuple[int, ...] = (),
                    log_stderr: Callable[[str], None] | None = None) -> Child:
        # A new session keeps a terminal's Ctrl-C away from the children: hlsd stops them
        # in order (encoder first, so the segmenter can write the last segment).
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=stdin, stdout=stdout, stderr=asyncio.subprocess.PIPE,
            start_new_session=True, pass_fds=pass_fds)
        return cls(proc, label, tg, log_stderr=log_stderr)

    async def _drain_stderr(self) -> None:
        assert self.proc.stderr is not None
        while True:
            try:
                raw = await self.proc.stderr.readline()
            except ValueError:  # a line over the stream limit: skip it
                continue
            if not raw:
                return
            line = redact_text(raw.decode("utf-8", "replace").rstrip())
            if not line:
                continue
            self.tail.append(line)
            if self._log_stderr is not None:
                self._log_stderr(line)

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def returncode(self) -> int | None:
        return self.proc.returncode

    async def wait(self) -> int:
        code = await self.proc.wait()
        # The rest of stderr (its tail explains an exit); a grandchild holding the pipe
        # open must not keep the owner's TaskGroup waiting, hence the bound.
        _, pending = await asyncio.wait({self._stderr_task}, timeout=2.0)
        for task in pending:
            task.cancel()
        return code

    def send(self, sig: int) -> None:
        if self.proc.returncode is None:
            # os.kill, not proc.send_signal: on Python < 3.13 that polls (waitpid) first and
            # can reap a child that just exited before asyncio's child watcher does; the
            # watcher then reports exit code 255 for a clean exit (CPython gh-87744).
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    async def stop(self, grace: float = 5.0) -> int:
        """SIGTERM, then SIGKILL after `grace` seconds; returns the exit code."""
        if self.proc.returncode is None:
            self.send(signal.SIGTERM)
            try:
                async with asyncio.timeout(grace):
                    await self.proc.wait()
            except TimeoutError:
                log.warning("child ignored SIGTERM; killing", child=self.label, pid=self.pid)
                self.send(signal.SIGKILL)
        return await self.wait()

    def kill(self) -> None:
        self.send(signal.SIGKILL)


async def read_lines(stream: asyncio.StreamReader,
                     on_line: Callable[[bytes], Awaitable[None]]) -> None:
    """Feed each line of `stream` to `on_line` until EOF."""
    while True:
        raw = await stream.readline()
        if not raw:
            return
        await on_line(raw)
