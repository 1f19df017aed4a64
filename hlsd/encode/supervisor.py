"""One encoder group kept producing: ffmpeg → OS pipe(s) → one hlsd-segmenter per rung,
restarted with backoff when anything in it dies or stalls.

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
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

import structlog

from hlsd.backoff import Backoff
from hlsd.child import Child, exit_reason, read_lines
from hlsd.encode.events import EventError, PartReady, SegmentReady, StreamEnd, parse_line
from hlsd.encode.host import PipelineHost
from hlsd.encode.livecuts import CutRun, with_start
from hlsd.encode.specs import GroupSpec

log = structlog.get_logger()

# After a stalled encoder is killed, its segmenters get this long to see the end of their
# input and write their last segment; one still running then is hung itself.
SEGMENTER_HANG_GRACE = 5.0


class RungFailed(Exception):
    """A finite input's encoder failed: restarting would publish its start twice."""


@dataclass
class _Attempt:
    first: set[str] = field(default_factory=set)  # rungs whose first segment is pending
    ended: set[str] = field(default_factory=set)
    stalled: dict[str, Any] = field(default_factory=dict)  # why the stall guard killed it
    # rung -> monotonic time of its segmenter's newest news in this run (the stall
    # detector's clock)
    progress: dict[str, float] = field(default_factory=dict)
    cuts: CutRun | None = None  # where its segmenters are told to cut (marked splices)


class GroupSupervisor:
    """Keeps one encoder group producing segments; `run()` returns when a finite input ends."""

    def __init__(self, spec: GroupSpec, host: PipelineHost) -> None:
        self.spec = spec
        self._host = host
        self._backoff = Backoff()
        self._stopping = False
        self._encoder: Child | None = None
        self.attempts = 0
        # How the last attempt failed; a live rung logs it with its restart, so each
        # attempt costs the log one warning, not one per symptom.
        self._failure: dict[str, Any] = {}
        self._switched = False  # the last run was ended by the ingest stage's switch
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
            rung.workdir.mkdir(mode=0o750, parents=True, exist_ok=True)
        while not self._stopping:
            started = time.monotonic()
            ended = await self._attempt()
            if self._stopping or (ended and not self.spec.live):
                return
            if not self.spec.live:
                raise RungFailed(f"{self.spec.name}: encoder failed on a finite input")
            if self._switched:
                # The ingest stage changed the source and ended this run: the next one
                # starts on the new source at once (no failure, no backoff).
                self._failure = {}
                self.log.info("encoder restarting on the new input", attempt=self.attempts + 1)
                for rung in self.spec.rungs:  # its first segment may come a little later
                    self._host.restarted(rung.name, failed=False)
                continue
            delay = self._backoff.next_delay(time.monotonic() - started)
            failure, self._failure = self._failure, {}
            self.log.warning("encoder pipeline ended; restarting", delay=round(delay, 2),
                             attempt=self.attempts + 1, **failure)
            for rung in self.spec.rungs:
                self._host.restarted(rung.name)
            await asyncio.sleep(delay)

    async def _attempt(self) -> bool:
        """One pipeline run; True when the input ended cleanly (exit 0, `end` from all)."""
        self.attempts += 1
        for rung in self.spec.rungs:
            for stale in rung.workdir.glob(f"{rung.prefix}-*.tmp"):
                stale.unlink(missing_ok=True)
        # A new run breaks the timeline, except a locked one's on the same source: it goes
        # on with the input's own timestamps (hlsd.encode.locked).
        breaks = not self.spec.locked or self._switched
        state = _Attempt(first={r.name for r in self.spec.rungs} if breaks else set())
        feed = self.spec.feed
        async with asyncio.TaskGroup() as tg:
            try:
                encoder, segmenters = await self._spawn(tg, state)
            except OSError as exc:  # e.g. a segmenter_binary that is not there
                self.log.error("cannot start encoder pipeline", error=str(exc))
                return False
            self._encoder = encoder
            self.log.info("encoder started", encoder_pid=encoder.pid,
                          segmenter_pids=[s.pid for s in segmenters], attempt=self.attempts)
            watchdog = tg.create_task(self._watch_stall(encoder, segmenters, state))
            try:
                codes = await asyncio.gather(*(
                    self._read_segmenter(rung.name, seg, encoder, state)
                    for rung, seg in zip(self.spec.rungs, segmenters, strict=True)))
                enc_code = await encoder.stop(grace=5.0)
            except BaseException:
                await _kill_all([encoder, *segmenters])
                raise
            finally:
                watchdog.cancel()
                self._encoder = None
                if state.cuts is not None:
                    state.cuts.close()
        clean = enc_code == 0 and all(c == 0 for c in codes) and \
            state.ended == {r.name for r in self.spec.rungs}
        self._switched = feed is not None and feed.switched_away(self.spec.name) \
            and not state.stalled
        if not clean and not self._stopping and not self._switched:
            failure: dict[str, Any] = {"encoder_code": enc_code, "segmenter_codes": codes,
                                       **state.stalled}
            # A segmenter that failed says why (e.g. "No space left on device") on stderr.
            errors = [seg.tail[-1] for seg, code in zip(segmenters, codes, strict=True)
                      if code > 0 and seg.tail]
            if errors:
                failure["segmenter_error"] = "\n".join(errors)
            failure.update(exit_reason(encoder.tail))  # ffmpeg's reason, not its banner
            if self.spec.live:
                self._failure = failure
            else:
                self.log.warning("encoder pipeline exited", **failure)
        return clean

    async def _spawn(self, tg: asyncio.TaskGroup, state: _Attempt
                     ) -> tuple[Child, list[Child]]:
        """The encoder, then one segmenter per rung on the read end of its pipe."""
        spec = self.spec
        pipes = [os.pipe() for _ in spec.rungs]
        write_fds = [w for _, w in pipes]
        run = state.cuts = None if spec.cuts is None or spec.feed is None else \
            spec.cuts.open(spec.name, spec.feed, list(spec.zeros))
        stdin: Any = spec.stdin() if spec.stdin is not None else asyncio.subprocess.DEVNULL
        encoder: Child | None = None
        segmenters: list[Child] = []
        try:
            single = len(spec.rungs) == 1
            encoder = await Child.spawn(
                spec.encoder_argv(write_fds, marked=run is not None),
                f"ffmpeg[{spec.name}]", tg, stdin=stdin,
                stdout=write_fds[0] if single else asyncio.subprocess.DEVNULL,
                pass_fds=() if single else tuple(write_fds),
                log_stderr=with_start(run, lambda line: self.log.debug("ffmpeg", line=line)))
            if self._switched and spec.feed is not None:
                # A new source: its clock has nothing to do with the old grid.
                names = tuple(r.name for r in spec.rungs)
                seq, grid = self._host.switch_seq(spec.feed.switches, names), None
            else:
                seq = self._host.start_seq()
                # A restarted rung rejoins the ladder's grid: where its timestamps continue
                # the others' (-copyts, a shared source clock) it cuts and numbers as they do.
                grid = self._host.rejoin_grid() if self.attempts > 1 else None
            for i, (rung, (read_fd, _)) in enumerate(zip(spec.rungs, pipes, strict=True)):
                cut_args, cut_fds = ([], ()) if run is None else run.segmenter_args(i)
                segmenters.append(await Child.spawn(
                    [*rung.segmenter_argv(seq, grid), *cut_args], f"segmenter[{rung.name}]",
                    tg, stdin=read_fd, stdout=asyncio.subprocess.PIPE, pass_fds=cut_fds,
                    log_stderr=partial(self._segmenter_stderr, rung.name, state)))
        except BaseException:
            await _kill_all([c for c in [encoder, *segmenters] if c is not None])
            if run is not None:
                run.close()
            raise
        finally:
            if run is not None:
                run.spawned()
            for read_fd, write_fd in pipes:  # the children hold their own copies
                os.close(read_fd)
                os.close(write_fd)
            if isinstance(stdin, int) and stdin >= 0 and spec.stdin is not None:
                with contextlib.suppress(OSError):
                    os.close(stdin)
        return encoder, segmenters

    def _segmenter_stderr(self, rung: str, state: _Attempt, line: str) -> None:
        self.log.info("segmenter", rung=rung, line=line)
        # Its first line (the program it found) says media has begun to flow: the stall
        # guard's start-up grace runs from there. Later lines are no progress (a segmenter
        # fed garbage may complain for ever).
        state.progress.setdefault(rung, time.monotonic())

    async def _read_segmenter(self, rung: str, segmenter: Child, encoder: Child,
                              state: _Attempt) -> int:
        assert segmenter.proc.stdout is not None
        await read_lines(segmenter.proc.stdout, partial(self._line, rung, state))
        code = await segmenter.wait()
        finished = code == 0 and rung in state.ended  # the input's end, not a failure
        if len(self.spec.rungs) > 1 and encoder.returncode is None and not self._stopping \
                and not finished:
            # One output of a shared encoder is gone: the unit restarts as a whole.
            self.log.warning("segmenter exited; restarting the shared encoder", rung=rung,
                             code=code)
            encoder.kill()
        return code

    async def _line(self, rung: str, state: _Attempt, raw: bytes) -> None:
        try:
            event = parse_line(raw)
        except EventError as exc:
            self.log.warning("unreadable segmenter line", rung=rung, error=str(exc))
            return
        if event is None:
            return
        # Any news from the segmenter is progress: media is flowing (an encoder whose
        # input has just come back reports its stream before its first segment, and must
        # not be killed by the stall guard in that second).
        state.progress[rung] = time.monotonic()
        if isinstance(event, SegmentReady):
            # Every new pipeline run breaks the timeline: the player must reset its decoder.
            if rung in state.first:
                event = replace(event, discontinuity=True)
                state.first.discard(rung)
        elif isinstance(event, PartReady) and rung in state.first:
            event = replace(event, discontinuity=True)  # parts come before their segment
        elif isinstance(event, StreamEnd):
            state.ended.add(rung)
        await self._host.report(rung, event)

    async def _watch_stall(self, encoder: Child, segmenters: list[Child],
                           state: _Attempt) -> None:
        """A rung without news from its segmenter (a segment, a part, its stream) for 3×
        segment_length (plus a grace before the first) means the pipeline is stuck
        (crashed or hung, e.g. SIGSTOP): kill the encoder so the loop restarts it, then
        any segmenter that does not end with its input (a hung segmenter would keep the
        attempt, and the rung, waiting for good)."""
        started = time.monotonic()
        feed = self.spec.feed
        while encoder.returncode is None:
            await asyncio.sleep(min(1.0, self.spec.stall_after / 3))
            now = time.monotonic()
            # Behind the ingest stage, no input on air is no stall (the encoder waits for
            # its first bytes), and the clock starts again when a source goes on air.
            on_air = feed.on_air_since() if feed is not None else 0.0
            if on_air is None:
                continue
            for rung in self.spec.rungs:
                limit = self.spec.stall_after
                last = state.progress.get(rung.name)
                if last is None:
                    since, limit = started, limit + self.spec.first_segment_grace
                else:
                    since = last
                since = max(since, on_air)
                if now - since > limit and not self._stopping:
                    state.stalled = {"stalled_rung": rung.name,
                                     "stalled_for": round(now - since, 1)}
                    encoder.kill()
                    await asyncio.sleep(SEGMENTER_HANG_GRACE)
                    for segmenter in segmenters:
                        if segmenter.returncode is None:
                            self.log.warning("segmenter hung; killing it", pid=segmenter.pid)
                            segmenter.kill()
                    return


async def _kill_all(children: list[Child]) -> None:
    """SIGKILL and reap: nothing of a failed run may outlive it."""
    for child in children:
        child.kill()
    with contextlib.suppress(BaseException):
        await asyncio.shield(asyncio.gather(*(c.wait() for c in children)))
