"""One rung's ffmpeg → OS pipe → hlsd-segmenter pipeline, restarted with backoff when it dies."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import structlog

from hlsd.backoff import Backoff
from hlsd.events import Event, EventError, SegmentReady, StreamEnd, parse_line
from hlsd.process import Child, read_lines

log = structlog.get_logger()

EventSink = Callable[[str, Event], Awaitable[None]]


class RungFailed(Exception):
    """A finite input's encoder failed: restarting would publish its start twice."""


@dataclass(frozen=True)
class RungSpec:
    name: str
    encoder_argv: list[str]
    segmenter: str
    workdir: Path
    prefix: str  # segment file prefix: <segment_prefix>_<rung>
    segment_length: float
    max_duration: float
    live: bool
    stdin: Callable[[], Any] | None = None  # encoder stdin for '-' / source_command inputs
    first_segment_grace: float = 15.0  # inputs (rtmp, srt) may take a while to open

    @property
    def stall_after(self) -> float:
        return 3 * self.segment_length

    def segmenter_argv(self, start_seq: int) -> list[str]:
        return [self.segmenter, "--duration", f"{self.segment_length:g}",
                "--max-duration", f"{self.max_duration:g}", "--dir", str(self.workdir),
                "--prefix", self.prefix, "--start-seq", str(start_seq)]


class RungSupervisor:
    """Keeps one rung producing segments; `run()` returns when a finite input is done."""

    def __init__(self, spec: RungSpec, sink: EventSink, next_seq: Callable[[], int],
                 on_restart: Callable[[str], None] | None = None) -> None:
        self.spec = spec
        self._sink = sink
        self._next_seq = next_seq
        self._on_restart = on_restart
        self._backoff = Backoff()
        self._stopping = False
        self._encoder: Child | None = None
        self.last_segment_at: float | None = None  # monotonic
        self.attempts = 0
        self.log = log.bind(rung=spec.name)

    @property
    def encoder_pid(self) -> int | None:
        return self._encoder.pid if self._encoder else None

    def stop(self) -> None:
        """Graceful: the encoder gets SIGTERM, the segmenter then writes the last segment."""
        self._stopping = True
        if self._encoder is not None:
            self._encoder.send(15)

    async def run(self) -> None:
        self.spec.workdir.mkdir(parents=True, exist_ok=True)
        while not self._stopping:
            started = time.monotonic()
            ended = await self._attempt()
            if self._stopping or (ended and not self.spec.live):
                return
            if not self.spec.live:
                raise RungFailed(f"rung {self.spec.name}: encoder failed on a finite input")
            delay = self._backoff.next_delay(time.monotonic() - started)
            self.log.warning("encoder pipeline ended; restarting", delay=round(delay, 2),
                             attempt=self.attempts + 1)
            if self._on_restart is not None:
                self._on_restart(self.spec.name)
            await asyncio.sleep(delay)

    async def _attempt(self) -> bool:
        """One pipeline run; True when the input ended cleanly (encoder exit 0, `end` seen)."""
        self.attempts += 1
        spec = self.spec
        for stale in spec.workdir.glob(f"{spec.prefix}-*.tmp"):
            stale.unlink(missing_ok=True)
        read_fd, write_fd = os.pipe()
        stdin = spec.stdin() if spec.stdin is not None else asyncio.subprocess.DEVNULL
        try:
            encoder = await Child.spawn(spec.encoder_argv, f"ffmpeg[{spec.name}]", stdin=stdin,
                                        stdout=write_fd,
                                        log_stderr=lambda line: self.log.debug("ffmpeg",
                                                                               line=line))
            try:
                segmenter = await Child.spawn(
                    spec.segmenter_argv(self._next_seq()), f"segmenter[{spec.name}]",
                    stdin=read_fd, stdout=asyncio.subprocess.PIPE,
                    log_stderr=lambda line: self.log.info("segmenter", line=line))
            except BaseException:
                encoder.kill()
                raise
        finally:
            os.close(read_fd)  # the children hold their own copies
            os.close(write_fd)
        self._encoder = encoder
        self.log.info("rung started", encoder_pid=encoder.pid, segmenter_pid=segmenter.pid,
                      attempt=self.attempts)
        state = _AttemptState(first=True, ended=False)
        watchdog = asyncio.create_task(self._watch_stall(encoder, state))
        try:
            assert segmenter.proc.stdout is not None
            await read_lines(segmenter.proc.stdout, lambda raw: self._line(raw, state))
            seg_code = await segmenter.wait()
            enc_code = await encoder.stop(grace=5.0)
        except BaseException:
            encoder.kill()
            segmenter.kill()
            with contextlib.suppress(BaseException):
                await asyncio.shield(asyncio.gather(encoder.wait(), segmenter.wait()))
            raise
        finally:
            watchdog.cancel()
            self._encoder = None
        clean = enc_code == 0 and seg_code == 0 and state.ended
        if not clean and not self._stopping:
            self.log.warning("encoder pipeline exited", encoder_code=enc_code,
                             segmenter_code=seg_code, stderr_tail="\n".join(encoder.tail))
        return clean

    async def _line(self, raw: bytes, state: _AttemptState) -> None:
        try:
            event = parse_line(raw)
        except EventError as exc:
            self.log.warning("unreadable segmenter line", error=str(exc))
            return
        if event is None:
            return
        if isinstance(event, SegmentReady):
            self.last_segment_at = time.monotonic()
            # Every new pipeline run breaks the timeline: the player must reset its decoder.
            if state.first:
                event = replace(event, discontinuity=True)
                state.first = False
        elif isinstance(event, StreamEnd):
            state.ended = True
        await self._sink(self.spec.name, event)

    async def _watch_stall(self, encoder: Child, state: _AttemptState) -> None:
        """No segment for 3× segment_length (plus a grace for the first): kill the encoder."""
        started = time.monotonic()
        while encoder.returncode is None:
            await asyncio.sleep(min(1.0, self.spec.stall_after / 3))
            since = self.last_segment_at if not state.first and self.last_segment_at else None
            now = time.monotonic()
            limit = self.spec.stall_after
            if since is None:
                since, limit = started, limit + self.spec.first_segment_grace
            if now - since > limit and not self._stopping:
                self.log.warning("encoder stalled; killing it", seconds=round(now - since, 1),
                                 stderr_tail="\n".join(encoder.tail))
                encoder.kill()
                return


@dataclass
class _AttemptState:
    first: bool
    ended: bool
