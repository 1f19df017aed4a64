"""The daemon's life, top to bottom: start up, stream until told to stop, shut down.

Everything long-lived runs in one TaskGroup. Signals only set events (see cli.py);
this module turns them into a graceful stop or a reload.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import structlog

from hlsd import config as cfg
from hlsd import logs
from hlsd.destinations import Destinations
from hlsd.ffmpeg import FfmpegBinary, find_ffmpeg
from hlsd.health import HealthReport, evaluate
from hlsd.intake import Intake
from hlsd.ladder import Ladder
from hlsd.metrics import Metrics
from hlsd.notify import Notifier, format_status, watchdog_loop
from hlsd.origin import Origin, OriginError
from hlsd.reload import plan_reload
from hlsd.rungs import Rungs
from hlsd.state import StateStore
from hlsd.supervisor import RungFailed

log = structlog.get_logger()

STATUS_EVERY = 5.0  # seconds between STATUS= updates
SPAWN_GRACE = 10.0  # seconds for the rungs' first processes to exist before READY=1 anyway
DRAIN_GRACE = 15.0  # seconds for destinations to publish what is left on SIGTERM


class FatalError(Exception):
    """A condition the operator must fix (no ffmpeg, unwritable temp_dir); exit 1."""


class _Stop(Exception):
    """Raised inside the TaskGroup to bring every long-lived task down."""


@dataclass
class Controls:
    """What the outside world (signals, tests) uses to steer a running daemon."""

    stop: asyncio.Event
    reload: asyncio.Event

    @classmethod
    def create(cls) -> Controls:
        return cls(asyncio.Event(), asyncio.Event())


class Daemon:
    def __init__(self, config: cfg.Config, controls: Controls | None = None,
                 notifier: Notifier | None = None) -> None:
        self.config = config
        self.controls = controls or Controls.create()
        self.notifier = notifier or Notifier.from_env()
        self.metrics = Metrics()
        self.state = StateStore(config.temp_dir)
        self.target_duration = config.effective_target_duration
        self.ladder = Ladder(config.index_prefix, config.index_segment_count)
        self.destinations = Destinations(self.ladder, self.metrics, self.target_duration)
        self.intake = Intake(lambda: self.config.temp_dir, self.ladder, self.destinations,
                             self.metrics, lambda pts, seq: self.rungs.first_segment(pts, seq))
        self.rungs = Rungs(config, self.target_duration, self.intake,
                           lambda: self.intake.next_seq, self.controls.stop.is_set,
                           self.destinations, self.metrics)
        self._started = time.monotonic()
        self._tg: asyncio.TaskGroup | None = None
        self.ffmpeg: FfmpegBinary | None = None
        self.origin = Origin(self.metrics, self.health, self.info)

    # -- life ------------------------------------------------------------------------------
    async def run(self) -> int:
        """0: stopped or finished; 1: fatal error."""
        try:
            self._start_up()
        except FatalError as exc:
            log.error("cannot start", reason=str(exc))
            return 1
        code = 0
        try:
            async with asyncio.TaskGroup() as tg:
                self._tg = tg
                tg.create_task(self._main())
        except* _Stop:
            pass
        except* FatalError as fatal:
            for problem in fatal.exceptions:
                log.error("cannot start", reason=str(problem))
            code = 1
        except* RungFailed as group:
            for failure in group.exceptions:
                log.error("stream failed", reason=str(failure))
            code = 1
        finally:
            self._save_state()
            await self.origin.stop()
            self.notifier.close()
        log.info("hlsd stopped", exit_code=code, segments=self.intake.segments)
        return code

    def _start_up(self) -> None:
        config = self.config
        self.ffmpeg = find_ffmpeg()
        if self.ffmpeg is None:
            raise FatalError("no ffmpeg: install it (apt-get install ffmpeg) or the "
                             "imageio-ffmpeg wheel")
        self.rungs.ffmpeg = self.ffmpeg.path
        try:
            config.temp_dir.mkdir(parents=True, exist_ok=True, mode=0o750)
        except OSError as exc:
            raise FatalError(f"temp_dir {config.temp_dir}: {exc.strerror}") from None
        state = self.state.load()
        self.ladder.set_rungs({p.name: p.bandwidth for p in config.encoding_profiles})
        for profile in config.transfer_profiles:
            self.destinations.add(profile, config,
                                  state.get("destinations", {}).get(profile.name))
        self.intake.next_seq = max([int(state.get("next_seq", 0))]
                                   + [d.last_seq() + 1 for d in self.destinations])
        for warning in config.warnings:
            log.warning("config", problem=warning)
        log.info("hlsd starting", rungs=[p.name for p in config.encoding_profiles],
                 destinations=self.destinations.names(), live=config.is_live,
                 ffmpeg=self.ffmpeg.path, next_seq=self.intake.next_seq,
                 target_duration=self.target_duration)

    async def _main(self) -> None:
        assert self._tg is not None
        self.destinations.start(self._tg)
        self.rungs.start(self._tg, list(self.config.encoding_profiles))
        self._tg.create_task(self._persist_loop())
        self._tg.create_task(self._reload_loop())
        try:
            await self.origin.start(self.config)
        except OriginError as exc:
            raise FatalError(str(exc)) from None
        await self._rungs_spawned()
        self.notifier.ready(self._status())
        self._tg.create_task(self._watchdog_loop())  # systemd counts pings after READY=1
        stop = asyncio.create_task(self.controls.stop.wait())
        done = asyncio.create_task(self._all_finished())
        await asyncio.wait({stop, done}, return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        done.cancel()
        if self.controls.stop.is_set():
            await self._graceful_stop()
        else:
            self.notifier.stopping()
            log.info("input finished; everything published")
        raise _Stop

    async def _rungs_spawned(self) -> None:
        """Until every encoder runs (or its task ended): READY=1 means streaming."""
        deadline = time.monotonic() + SPAWN_GRACE
        while time.monotonic() < deadline and not self.rungs.spawned():
            await asyncio.sleep(0.05)

    async def _all_finished(self) -> None:
        """Finite input: every rung ended and every destination published ENDLIST."""
        if self.config.is_live:
            await asyncio.Event().wait()
        await self.rungs.inputs_ended.wait()
        rungs = self.rungs.names()
        await asyncio.gather(*(d.wait_finished(rungs) for d in self.destinations))

    async def _graceful_stop(self) -> None:
        log.info("stopping: finishing the segments in flight")
        self.notifier.stopping()
        await self.rungs.stop_all()
        await self.destinations.drain(DRAIN_GRACE)

    # -- state, health, notify -------------------------------------------------------------
    def _save_state(self) -> None:
        try:
            self.state.save({
                "next_seq": self.intake.next_seq,
                "destinations": self.destinations.snapshot(),
            })
            self.intake.dirty = False
        except OSError as exc:
            log.error("cannot save state", path=str(self.state.path), error=exc.strerror)

    async def _persist_loop(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            if self.intake.dirty:
                await asyncio.to_thread(self._save_state)

    def health(self) -> HealthReport:
        last = {name: sup.last_segment_at.get(name) for name, sup in self.rungs.by_rung.items()}
        return evaluate(last, time.monotonic(), 3 * self.config.segment_length, self._started,
                        self.rungs.started_at)

    def _status(self) -> str:
        """STATUS=: rungs producing segments in time, and the newest segment's age."""
        report = self.health()
        up = sum(1 for r in report.rungs if r.ok and r.age is not None)
        ages = [r.age for r in report.rungs if r.age is not None]
        return format_status(up, len(report.rungs), min(ages) if ages else None)

    async def _watchdog_loop(self) -> None:
        """WATCHDOG=1 only while every rung keeps producing (systemd restarts a stuck
        daemon), and a fresh STATUS= line every few seconds for `systemctl status`."""
        if not self.notifier.enabled:
            return
        async with asyncio.TaskGroup() as tg:
            # Silent once stopping: STOPPING=1 is the last word systemd should get.
            tg.create_task(watchdog_loop(
                self.notifier, lambda: not self.controls.stop.is_set() and self.health().ok))
            while True:
                await asyncio.sleep(STATUS_EVERY)
                self.notifier.status(self._status())

    def info(self) -> dict[str, Any]:
        """Live figures for the player page (/info.json)."""
        return {
            "master": self.ladder.master_name,
            "segment_length": self.config.segment_length,
            "target_duration": self.target_duration,
            "segments": self.intake.segments,
            "rungs": [{"name": s.name, "bandwidth": s.bandwidth, "average": s.average,
                       "codecs": s.stream.codecs if s.stream else None,
                       "resolution": (f"{s.stream.video.width}x{s.stream.video.height}"
                                      if s.stream and s.stream.video else None)}
                      for s in self.ladder.rungs.values()],
            "destinations": {n: {"skipped": d.skipped,
                                 "queued": d.queued}
                             for n, d in self.destinations.by_name.items()},
        }

    # -- reload ----------------------------------------------------------------------------
    async def _reload_loop(self) -> None:
        while True:
            await self.controls.reload.wait()
            self.controls.reload.clear()
            if self.controls.stop.is_set():
                continue  # stopping anyway: a reload now would only restart children
            self.notifier.reloading()
            try:
                await self._reload()
            except Exception:  # a half-applied reload must not end the stream
                log.exception("reload failed; the stream continues with what was applied")
            finally:
                self.notifier.ready(self._status())

    async def _reload(self) -> None:
        path = self.config.source_path
        if path is None:
            log.warning("reload requested but the config came from no file")
            return
        try:
            new = cfg.load(path)
        except cfg.ConfigError as exc:
            for problem in exc.problems:
                log.error("reload refused: invalid config; the running config stays",
                          problem=str(problem))
            return
        await self.apply(new)

    async def apply(self, new: cfg.Config) -> None:
        """Apply a changed config without stopping the stream: only what changed restarts."""
        old, plan = self.config, plan_reload(self.config, new)
        self.config = self.rungs.config = new
        for warning in new.warnings:
            log.warning("config", problem=warning)
        if plan.logging_changed:
            logs.configure(new.log_level, new.log_type, new.log_file)
        if plan.target_duration_changed:
            # EXT-X-TARGETDURATION is fixed for a playlist's life (RFC 8216 §6.2.1).
            log.warning("target duration stays until a restart", running=self.target_duration,
                        configured=new.effective_target_duration)
        for name in plan.stop_rungs:
            await self.rungs.stop(name)
        for name in plan.removed_rungs:
            for dest in self.destinations:
                await dest.remove_rung(name)
            self.metrics.forget_rung(name)
            self.rungs.forget(name)
        self.ladder.set_rungs({p.name: p.bandwidth for p in new.encoding_profiles})
        await self.destinations.apply(plan, new, self.rungs.finished)
        # Stopping a shared encoder stopped all its rungs: start whatever is not running.
        starting = [p for p in new.encoding_profiles if p.name not in self.rungs]
        assert self._tg is not None
        self.rungs.start(self._tg, starting, restarted=True)
        await self.origin.apply(old, new)
        log.info("config reloaded", restarted_rungs=[p.name for p in starting
                                                     if p.name not in plan.added_rungs],
                 removed_rungs=list(plan.removed_rungs), added_rungs=list(plan.added_rungs),
                 destinations=self.destinations.names())
