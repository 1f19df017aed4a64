"""The daemon's life, top to bottom: start up, stream until told to stop, shut down.

Everything long-lived runs in one TaskGroup. Signals only set events (see cli.py);
this module turns them into a graceful stop or a reload.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog

from hlsd import config as cfg
from hlsd import configload, logs
from hlsd.configcheck import ConfigError
from hlsd.destinations import Destinations
from hlsd.encoders import group_specs, make_fanout
from hlsd.events import Event, SegmentReady, StreamInfo
from hlsd.fanout import Fanout
from hlsd.ffmpeg import FfmpegBinary, find_ffmpeg
from hlsd.health import HealthReport, evaluate
from hlsd.ladder import Ladder
from hlsd.metrics import Metrics
from hlsd.notify import Notifier, format_status, watchdog_loop
from hlsd.reload import plan_reload
from hlsd.segment import SegmentFile
from hlsd.state import StateStore
from hlsd.supervisor import Grid, GroupSupervisor, RungFailed
from hlsd.timeline import Timeline

log = structlog.get_logger()

STOP_GRACE = 10.0  # seconds for encoders to finish their segment on SIGTERM
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
        self.timeline = Timeline()
        self.destinations = Destinations(self.ladder, self.metrics, self.target_duration)
        # rungs a reload (re)started: health gives them their own startup grace
        self._rung_started: dict[str, float] = {}
        self.rungs: dict[str, GroupSupervisor] = {}  # rung -> its (maybe shared) encoder
        self._rung_tasks: dict[str, asyncio.Task[None]] = {}  # group name -> task
        self.fanout: Fanout | None = None
        self.grid: Grid | None = None  # the ladder's segment grid, from its first segment
        self._fanout_task: asyncio.Task[None] | None = None
        self._finished: set[str] = set()
        self._inputs_ended = asyncio.Event()  # finite input: every rung's encoder is done
        self._next_seq = 0
        self._dirty = False
        self._started = time.monotonic()
        self._tg: asyncio.TaskGroup | None = None
        self.ffmpeg: FfmpegBinary | None = None
        self.http: Any = None
        self.segments_total = 0

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
            if self.http is not None:
                await self.http.stop()
            self.notifier.close()
        log.info("hlsd stopped", exit_code=code, segments=self.segments_total)
        return code

    def _start_up(self) -> None:
        config = self.config
        self.ffmpeg = find_ffmpeg()
        if self.ffmpeg is None:
            raise FatalError("no ffmpeg: install it (apt-get install ffmpeg) or the "
                             "imageio-ffmpeg wheel")
        try:
            config.temp_dir.mkdir(parents=True, exist_ok=True, mode=0o750)
        except OSError as exc:
            raise FatalError(f"temp_dir {config.temp_dir}: {exc.strerror}") from None
        state = self.state.load()
        self.ladder.set_rungs({p.name: p.bandwidth for p in config.encoding_profiles})
        for profile in config.transfer_profiles:
            self.destinations.add(profile, config,
                                  state.get("destinations", {}).get(profile.name))
        self._next_seq = max([int(state.get("next_seq", 0))]
                             + [d.last_seq() + 1 for d in self.destinations])
        for warning in config.warnings:
            log.warning("config", problem=warning)
        log.info("hlsd starting", rungs=[p.name for p in config.encoding_profiles],
                 destinations=self.destinations.names(), live=config.is_live,
                 ffmpeg=self.ffmpeg.path, next_seq=self._next_seq,
                 target_duration=self.target_duration)

    async def _main(self) -> None:
        assert self._tg is not None
        self.destinations.start(self._tg)
        self._start_rungs(list(self.config.encoding_profiles))
        self._tg.create_task(self._persist_loop())
        self._tg.create_task(self._reload_loop())
        if self.config.http is not None:
            await self._start_http(self.config.http)
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

        def spawned(sup: GroupSupervisor) -> bool:
            task = self._rung_tasks.get(sup.spec.name)
            return sup.encoder_pid is not None or task is None or task.done()

        while time.monotonic() < deadline and not all(map(spawned, set(self.rungs.values()))):
            await asyncio.sleep(0.05)

    async def _all_finished(self) -> None:
        """Finite input: every rung ended and every destination published ENDLIST."""
        if self.config.is_live:
            await asyncio.Event().wait()
        await self._inputs_ended.wait()
        rungs = list(self.rungs)
        await asyncio.gather(*(d.wait_finished(rungs) for d in self.destinations))

    async def _graceful_stop(self) -> None:
        log.info("stopping: finishing the segments in flight")
        self.notifier.stopping()
        for sup in set(self.rungs.values()):
            sup.stop()
        tasks = list(self._rung_tasks.values())
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=STOP_GRACE)
            for task in pending:
                log.warning("encoder did not stop in time; cancelling", task=task.get_name())
                task.cancel()
        # Destinations that are down cannot drain: don't hold the shutdown for them.
        deadline = time.monotonic() + DRAIN_GRACE
        while time.monotonic() < deadline and not all(
                d.idle() or d.retry.down for d in self.destinations):
            await asyncio.sleep(0.1)
        for dest in self.destinations:
            if not dest.idle():
                log.warning("destination still busy at shutdown; its queue is dropped",
                            destination=dest.name, down=dest.retry.down)

    # -- rungs -----------------------------------------------------------------------------
    def _make_fanout(self) -> None:
        self.fanout = make_fanout(self.config, on_lagging=self._restart_group)

    def _restart_group(self, group: str) -> None:
        for sup in set(self.rungs.values()):
            if sup.spec.name == group:
                sup.restart("it fell behind its source")

    def _start_rungs(self, profiles: list[cfg.EncodingProfile]) -> None:
        assert self._tg is not None
        if self.fanout is None and self._fanout_task is None:
            self._make_fanout()
        assert self.ffmpeg is not None
        specs = group_specs(self.config, profiles, self.ffmpeg.path, self.target_duration,
                            self.fanout)
        for spec in specs:
            for rung in spec.rungs:
                for leftover in rung.workdir.glob(f"{rung.prefix}-*"):
                    leftover.unlink(missing_ok=True)  # from a previous run; never announced
            sup = GroupSupervisor(spec, self._on_event, lambda: self._next_seq,
                                  on_restart=self.metrics.encoder_restart,
                                  grid=self._rejoin_grid)
            for rung in spec.rungs:
                self.rungs[rung.name] = sup
                for dest in self.destinations:
                    dest.add_rung(rung.name)
            self._rung_tasks[spec.name] = self._tg.create_task(
                self._run_group(sup), name=f"encoder {spec.name}")
        if self.fanout is not None and self._fanout_task is None:
            self.fanout.expect({s.name for s in specs})
            self._fanout_task = self._tg.create_task(self.fanout.run(), name="source")

    def _rejoin_grid(self) -> Grid | None:
        """The grid a restarted per-rung encoder rejoins while other rungs keep running."""
        return self.grid if len(set(self.rungs.values())) > 1 else None

    def _start_rung(self, profile: cfg.EncodingProfile) -> None:
        self._start_rungs([profile])

    async def _run_group(self, sup: GroupSupervisor) -> None:
        await sup.run()
        if not self.config.is_live and not self.controls.stop.is_set():
            for rung in sup.spec.rungs:
                self._finished.add(rung.name)
                for dest in self.destinations:
                    dest.finish_rung(rung.name)
            if not set(self.rungs) - self._finished:
                self._inputs_ended.set()

    async def _stop_rung(self, name: str) -> None:
        """Stop the encoder of rung `name` (in shared mode: of the whole ladder)."""
        sup = self.rungs.get(name)
        if sup is None:
            return
        for rung in sup.spec.rungs:
            self.rungs.pop(rung.name, None)
        sup.stop()
        task = self._rung_tasks.pop(sup.spec.name)
        try:
            await asyncio.wait_for(task, STOP_GRACE)
        except TimeoutError:
            log.warning("encoder did not stop in time", group=sup.spec.name)

    async def _on_event(self, rung: str, event: Event) -> None:
        if isinstance(event, StreamInfo):
            stats = self.ladder.rungs.get(rung)
            if stats is not None:
                stats.stream = event
            log.info("stream", rung=rung, codecs=event.codecs,
                     video=event.video.__dict__ if event.video else None)
            return
        if not isinstance(event, SegmentReady):
            return
        path = Path(event.file)
        if path.parent != self.config.temp_dir / rung:
            log.error("segment outside its rung's directory ignored", rung=rung, file=event.file)
            return
        self._next_seq = max(self._next_seq, event.seq + 1)
        if self.grid is None:
            self.grid = Grid(event.pts, event.seq)
        pdt = self.timeline.program_date_time(rung, event.seq, event.duration,
                                              event.discontinuity, datetime.now(UTC))
        seg = SegmentFile(rung=rung, seq=event.seq, path=path, duration=event.duration,
                          nbytes=event.bytes, independent=event.keyframe,
                          discontinuity=event.discontinuity, program_date_time=pdt)
        stats = self.ladder.rungs.get(rung)
        if stats is not None:
            stats.add(event.bytes, event.duration)
            if stats.over_floor():
                log.warning("measured peak bitrate exceeds configured bandwidth", rung=rung,
                            peak=stats.peak, bandwidth=stats.configured_bandwidth)
        self.metrics.segment(rung, event.duration, event.bytes)
        self.segments_total += 1
        log.debug("segment", rung=rung, seq=event.seq, duration=event.duration,
                  bytes=event.bytes, pts=event.pts, discontinuity=event.discontinuity)
        seg.hold(len(self.destinations))
        if not self.destinations:
            seg.release()
        for dest in self.destinations:
            dest.offer(seg)
        self._dirty = True

    # -- state, health, notify -------------------------------------------------------------
    def _save_state(self) -> None:
        try:
            self.state.save({
                "next_seq": self._next_seq,
                "destinations": self.destinations.snapshot(),
            })
            self._dirty = False
        except OSError as exc:
            log.error("cannot save state", path=str(self.state.path), error=exc.strerror)

    async def _persist_loop(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            if self._dirty:
                await asyncio.to_thread(self._save_state)

    def health(self) -> HealthReport:
        last = {name: sup.last_segment_at.get(name) for name, sup in self.rungs.items()}
        return evaluate(last, time.monotonic(), 3 * self.config.segment_length, self._started,
                        self._rung_started)

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
            tg.create_task(watchdog_loop(self.notifier, lambda: self.health().ok))
            while True:
                await asyncio.sleep(STATUS_EVERY)
                self.notifier.status(self._status())

    def info(self) -> dict[str, Any]:
        """Live figures for the player page (/info.json)."""
        return {
            "master": self.ladder.master_name,
            "segment_length": self.config.segment_length,
            "target_duration": self.target_duration,
            "segments": self.segments_total,
            "rungs": [{"name": s.name, "bandwidth": s.bandwidth, "average": s.average,
                       "codecs": s.stream.codecs if s.stream else None,
                       "resolution": (f"{s.stream.video.width}x{s.stream.video.height}"
                                      if s.stream and s.stream.video else None)}
                      for s in self.ladder.rungs.values()],
            "destinations": {n: {"skipped": d.skipped,
                                 "queued": d.queued}
                             for n, d in self.destinations.by_name.items()},
        }

    def _served_directory(self, config: cfg.Config) -> Path | None:
        """The copy destination the origin serves: `http.serve`, else the first copy one."""
        copies = [p for p in config.transfer_profiles if isinstance(p, cfg.CopyProfile)]
        serve = config.http.serve if config.http else None
        served = next((p for p in copies if p.name == serve), copies[0] if copies else None)
        return served.directory if served else None

    async def _start_http(self, settings: cfg.HttpSettings) -> None:
        from hlsd.httpd import HttpOrigin

        http = HttpOrigin(settings, self._served_directory(self.config), self.metrics,
                          self.health, self.info)
        try:
            await http.start()
        except OSError as exc:  # port taken, address not local: the operator must fix it
            raise FatalError(f"http {settings.listen}:{settings.port}: "
                             f"{exc.strerror or exc}") from None
        self.http = http
        log.info("http origin listening", url=http.url, directory=str(http.directory))

    async def _apply_http(self, old: cfg.Config, new: cfg.Config) -> None:
        """Rebind only when the HTTP settings changed; a new served folder is swapped in."""
        if old.http == new.http:
            if self.http is not None:
                self.http.directory = self._served_directory(new)
            return
        if self.http is not None:
            await self.http.stop()
            self.http = None
        if new.http is not None:
            try:
                await self._start_http(new.http)
            except FatalError as exc:  # the stream goes on; only the origin is missing
                log.error("http origin not restarted", reason=str(exc))

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
            new = configload.load(path)
        except ConfigError as exc:
            for problem in exc.problems:
                log.error("reload refused: invalid config; the running config stays",
                          problem=str(problem))
            return
        await self.apply(new)

    async def apply(self, new: cfg.Config) -> None:
        """Apply a changed config without stopping the stream: only what changed restarts."""
        old, plan = self.config, plan_reload(self.config, new)
        self.config = new
        for warning in new.warnings:
            log.warning("config", problem=warning)
        if plan.logging_changed:
            logs.configure(new.log_level, new.log_type, new.log_file)
        if plan.target_duration_changed:
            # EXT-X-TARGETDURATION is fixed for a playlist's life (RFC 8216 §6.2.1).
            log.warning("target duration stays until a restart", running=self.target_duration,
                        configured=new.effective_target_duration)
        for name in plan.stop_rungs:
            await self._stop_rung(name)
        for name in plan.removed_rungs:
            for dest in self.destinations:
                await dest.remove_rung(name)
            self.metrics.forget_rung(name)
            self._rung_started.pop(name, None)
        self.ladder.set_rungs({p.name: p.bandwidth for p in new.encoding_profiles})
        await self.destinations.apply(plan, new, self._finished)
        # Stopping a shared encoder stopped all its rungs: start whatever is not running.
        starting = [p for p in new.encoding_profiles if p.name not in self.rungs]
        for profile in starting:
            self._rung_started[profile.name] = time.monotonic()
        self._start_rungs(starting)
        await self._apply_http(old, new)
        log.info("config reloaded", restarted_rungs=[p.name for p in starting
                                                     if p.name not in plan.added_rungs],
                 removed_rungs=list(plan.removed_rungs), added_rungs=list(plan.added_rungs),
                 destinations=self.destinations.names())
