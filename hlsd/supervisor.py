"""Encoder pipelines: one ffmpeg → OS pipe(s) → one hlsd-segmenter per rung, restarted
with backoff when anything in them dies.

Per-rung mode runs one group per rung (a crashing rung disturbs no other); shared-decode
mode runs one group for the whole ladder (ffmpeg decodes once, writes each rung to its
own inherited pipe `pipe:N`), supervised as one unit.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import structlog

from hlsd.backoff import Backoff
from hlsd.events import Event, EventError, SegmentReady, StreamEnd, parse_line
from hlsd.process import Child, read_lines

log = structlog.get_logger()

EventSink = Callable[[str, Event], Awaitable[None]]
FINITE_STALL = 120.0  # seconds without a segment before a file encode counts as stuck
# After a stalled encoder is killed, its segmenters get this long to see the end of their
# input and write their last segment; one still running then is hung itself.
SEGMENTER_HANG_GRACE = 5.0


class RungFailed(Exception):
    """A finite input's encoder failed: restarting would publish its start twice."""


@dataclass(frozen=True)
class RungSpec:
    """One rung's segmenter side."""

    name: str
    segmenter: str
    workdir: Path
    prefix: str  # segment file prefix: <segment_prefix>_<rung>
    segment_length: float
    max_duration: float

    def segmenter_argv(self, start_seq: int, grid: Grid | None = None) -> list[str]:
        argv = [self.segmenter, "--duration", f"{self.segment_length:g}",
                "--max-duration", f"{self.max_duration:g}", "--dir", str(self.workdir),
                "--prefix", self.prefix, "--start-seq", str(start_seq)]
        if grid is not None:
            argv += ["--grid-origin", str(grid.pts), "--grid-seq", str(grid.seq)]
        return argv


@dataclass(frozen=True)
class Grid:
    """Where the ladder's segment grid is: segment `seq` started at `pts` (90 kHz)."""

    pts: int
    seq: int


@dataclass(frozen=True)
class GroupSpec:
    """One encoder process and the rungs it writes (one, or all in shared-decode mode)."""

    name: str
    rungs: tuple[RungSpec, ...]
    argv: Callable[[list[int]], list[str]]  # write fds (one per rung) -> encoder argv
    live: bool
    stdin: Callable[[], Any] | None = None  # encoder stdin for '-' / source_command inputs
    first_segment_grace: float = 15.0  # inputs (rtmp, srt) may take a while to open

    @property
    def stall_after(self) -> float:
        # A file may encode slower than real time on a busy machine; only a live
        # encoder must keep pace with the clock.
        longest = max(r.segment_length for r in self.rungs)
        return 3 * longest if self.live else max(3 * longest, FINITE_STALL)


@dataclass
class _Attempt:
    first: set[str] = field(default_factory=set)  # rungs whose first segment is pending
    ended: set[str] = field(default_factory=set)
    stalled: dict[str, Any] = field(default_factory=dict)  # why the stall guard killed it


class GroupSupervisor:
    """Keeps one encoder group producing segments; `run()` returns when a finite input ends."""

    def __init__(self, spec: GroupSpec, sink: EventSink, next_seq: Callable[[], int],
                 on_restart: Callable[[str], None] | None = None,
                 grid: Callable[[], Grid | None] | None = None) -> None:
        self.spec = spec
        self._sink = sink
        self._next_seq = next_seq
        self._grid = grid
        self._on_restart = on_restart
        self._backoff = Backoff()
        self._stopping = False
        self._encoder: Child | None = None
        self.last_segment_at: dict[str, float | None] = {r.name: None for r in spec.rungs}
        self.attempts = 0
        # How the last attempt failed; a live rung logs it with its restart, so each
        # attempt costs the log one warning, not one per symptom.
        self._failure: dict[str, Any] = {}
        self.log = log.bind(rung=spec.name)

    @property
    def encoder_pid(self) -> int | None:
        return self._encoder.pid if self._encoder else None

    def stop(self) -> None:
        """Graceful: the encoder gets SIGTERM, the segmenters then write their last segment."""
        self._stopping = True
        if self._encoder is not None:
            self._encoder.send(signal.SIGTERM)

    def restart(self, reason: str) -> None:
        """Kill the encoder now (e.g. it fell behind its source); the loop restarts it."""
        if self._encoder is not None and not self._stopping:
            self.log.warning("restarting encoder", reason=reason)
            self._encoder.kill()

    async def run(self) -> None:
        for rung in self.spec.rungs:
            rung.workdir.mkdir(parents=True, exist_ok=True)
        while not self._stopping:
            started = time.monotonic()
            ended = await self._attempt()
            if self._stopping or (ended and not self.spec.live):
                return
            if not self.spec.live:
                raise RungFailed(f"{self.spec.name}: encoder failed on a finite input")
            delay = self._backoff.next_delay(time.monotonic() - started)
            failure, self._failure = self._failure, {}
            self.log.warning("encoder pipeline ended; restarting", delay=round(delay, 2),
                             attempt=self.attempts + 1, **failure)
            if self._on_restart is not None:
                for rung in self.spec.rungs:
                    self._on_restart(rung.name)
            await asyncio.sleep(delay)

    async def _attempt(self) -> bool:
        """One pipeline run; True when the input ended cleanly (exit 0, `end` from all)."""
        self.attempts += 1
        spec = self.spec
        for rung in spec.rungs:
            for stale in rung.workdir.glob(f"{rung.prefix}-*.tmp"):
                stale.unlink(missing_ok=True)
        pipes = [os.pipe() for _ in spec.rungs]
        write_fds = [w for _, w in pipes]
        stdin = spec.stdin() if spec.stdin is not None else asyncio.subprocess.DEVNULL
        encoder: Child | None = None
        segmenters: list[Child] = []
        try:
            single = len(spec.rungs) == 1
            encoder = await Child.spawn(
                spec.argv(write_fds), f"ffmpeg[{spec.name}]", stdin=stdin,
                stdout=write_fds[0] if single else asyncio.subprocess.DEVNULL,
                pass_fds=() if single else tuple(write_fds),
                log_stderr=lambda line: self.log.debug("ffmpeg", line=line))
            seq = self._next_seq()
            # A restarted rung rejoins the ladder's grid: where its timestamps continue the
            # others' (-copyts, a shared source clock) it cuts and numbers as they do.
            grid = self._grid() if self._grid is not None and self.attempts > 1 else None
            for rung, (read_fd, _) in zip(spec.rungs, pipes, strict=True):
                segmenters.append(await Child.spawn(
                    rung.segmenter_argv(seq, grid), f"segmenter[{rung.name}]", stdin=read_fd,
                    stdout=asyncio.subprocess.PIPE,
                    log_stderr=partial(self._segmenter_stderr, rung.name)))
        except BaseException:
            for child in [encoder, *segmenters]:
                if child is not None:
                    child.kill()
            raise
        finally:
            for read_fd, write_fd in pipes:  # the children hold their own copies
                os.close(read_fd)
                os.close(write_fd)
            if isinstance(stdin, int) and stdin >= 0 and spec.stdin is not None:
                with contextlib.suppress(OSError):
                    os.close(stdin)
        self._encoder = encoder
        self.log.info("encoder started", encoder_pid=encoder.pid,
                      segmenter_pids=[s.pid for s in segmenters], attempt=self.attempts)
        state = _Attempt(first={r.name for r in spec.rungs})
        watchdog = asyncio.create_task(self._watch_stall(encoder, segmenters, state))
        try:
            codes = await asyncio.gather(*(self._read_segmenter(rung.name, seg, encoder, state)
                                           for rung, seg in zip(spec.rungs, segmenters,
                                                                strict=True)))
            enc_code = await encoder.stop(grace=5.0)
        except BaseException:
            for child in [encoder, *segmenters]:
                child.kill()
            with contextlib.suppress(BaseException):
                await asyncio.shield(asyncio.gather(*(c.wait() for c in [encoder,
                                                                          *segmenters])))
            raise
        finally:
            watchdog.cancel()
            self._encoder = None
        clean = enc_code == 0 and all(c == 0 for c in codes) and \
            state.ended == {r.name for r in spec.rungs}
        if not clean and not self._stopping:
            failure: dict[str, Any] = {"encoder_code": enc_code, "segmenter_codes": codes,
                                       **state.stalled}
            # A segmenter that failed says why (e.g. "No space left on device") on stderr.
            errors = [seg.tail[-1] for seg, code in zip(segmenters, codes, strict=True)
                      if code > 0 and seg.tail]
            if errors:
                failure["segmenter_error"] = "\n".join(errors)
            failure["stderr_tail"] = "\n".join(encoder.tail)
            if spec.live:
                self._failure = failure
            else:
                self.log.warning("encoder pipeline exited", **failure)
        return clean

    def _segmenter_stderr(self, rung: str, line: str) -> None:
        self.log.info("segmenter", rung=rung, line=line)

    async def _read_segmenter(self, rung: str, segmenter: Child, encoder: Child,
                              state: _Attempt) -> int:
        assert segmenter.proc.stdout is not None
        await read_lines(segmenter.proc.stdout, lambda raw: self._line(rung, raw, state))
        code = await segmenter.wait()
        if len(self.spec.rungs) > 1 and encoder.returncode is None and not self._stopping:
            # One output of a shared encoder is gone: the unit restarts as a whole.
            self.log.warning("segmenter exited; restarting the shared encoder", rung=rung,
                             code=code)
            encoder.kill()
        return code

    async def _line(self, rung: str, raw: bytes, state: _Attempt) -> None:
        try:
            event = parse_line(raw)
        except EventError as exc:
            self.log.warning("unreadable segmenter line", rung=rung, error=str(exc))
            return
        if event is None:
            return
        if isinstance(event, SegmentReady):
            self.last_segment_at[rung] = time.monotonic()
            # Every new pipeline run breaks the timeline: the player must reset its decoder.
            if rung in state.first:
                event = replace(event, discontinuity=True)
                state.first.discard(rung)
        elif isinstance(event, StreamEnd):
            state.ended.add(rung)
        await self._sink(rung, event)

    async def _watch_stall(self, encoder: Child, segmenters: list[Child],
                           state: _Attempt) -> None:
        """A rung without a segment for 3× segment_length (plus a grace for the first one)
        means the pipeline is stuck: kill the encoder so the loop restarts it, and then
        any segmenter that does not end with its input (a hung segmenter would otherwise
        keep the attempt, and the rung, waiting for good)."""
        started = time.monotonic()
        while encoder.returncode is None:
            await asyncio.sleep(min(1.0, self.spec.stall_after / 3))
            now = time.monotonic()
            for rung, last in self.last_segment_at.items():
                limit = self.spec.stall_after
                if rung in state.first or last is None:
                    since, limit = started, limit + self.spec.first_segment_grace
                else:
                    since = last
                if now - since > limit and not self._stopping:
                    state.stalled = {"stalled_rung": rung, "stalled_for": round(now - since, 1)}
                    encoder.kill()
                    await asyncio.sleep(SEGMENTER_HANG_GRACE)
                    for segmenter in segmenters:
                        if segmenter.returncode is None:
                            self.log.warning("segmenter hung; killing it", pid=segmenter.pid)
                            segmenter.kill()
                    return
