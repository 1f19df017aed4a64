"""The daemon's life, top to bottom: start up, stream until told to stop, shut down.

Everything long-lived runs in one TaskGroup. Signals only set events (see cli.py);
this module turns them into a graceful stop or a reload. An unexpected exception in
any task is logged with its context and brings the whole daemon down (exit 1, state
saved), so nothing fails silently and systemd restarts a clean process.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import structlog

from hlsd import config as cfg
from hlsd.encode.ffmpeg import find_ffmpeg
from hlsd.encode.supervisor import RungFailed
from hlsd.publish.keys import KeyState
from hlsd.serve.origin import OriginError
from hlsd.service.assembly import Parts, assemble
from hlsd.service.control import SOCKET_NAME, serve_control
from hlsd.service.metrics import Metrics
from hlsd.service.notify import Notifier, watchdog_loop
from hlsd.service.reconfigure import apply_reload
from hlsd.service.splices import find_breaks
from hlsd.service.state import DaemonState, StateStore

log = structlog.get_logger()

STATUS_EVERY = 5.0  # seconds between STATUS= updates
SPAWN_GRACE = 10.0  # seconds for the rungs' first processes to exist before READY=1 anyway
DRAIN_GRACE = 15.0  # seconds for destinations to publish what is left on SIGTERM
PERSIST_EVERY = 1.0  # seconds between state saves while segments come


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
    """One stream: its config, its pipeline's parts once started, and its TaskGroup."""

    def __init__(self, config: cfg.Config, controls: Controls | None = None,
                 notifier: Notifier | None = None,
                 on_listening: Callable[[str], None] | None = None) -> None:
        self.config = config
        self.controls = controls or Controls.create()
        self.notifier = notifier or Notifier.from_env()
        self.metrics = Metrics()
        self._store = StateStore(config.temp_dir)
        self._on_listening = on_listening
        self._keys_at_start = KeyState()
        self._control: asyncio.Task[None] | None = None

    # -- life ------------------------------------------------------------------------------
    async def run(self) -> int:
        """0: stopped or finished; 1: fatal error."""
        try:
            parts = self._start_up()
        except FatalError as exc:
            log.error("cannot start", reason=str(exc))
            return 1
        code = 0
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self._main(parts, tg), name="main")
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
        except* Exception as group:
            for error in group.exceptions:
                log.error("unexpected error; hlsd stops", error=repr(error), exc_info=error)
            code = 1
        finally:
            self._save_state(parts)
            await parts.origin.stop()
            self.notifier.close()
        log.info("hlsd stopped", exit_code=code, segments=parts.intake.segments)
        return code

    def _start_up(self) -> Parts:
        config = self.config
        ffmpeg = find_ffmpeg()
        if ffmpeg is None:
            raise FatalError("no ffmpeg: install it (apt-get install ffmpeg) or the "
                             "imageio-ffmpeg wheel")
        try:
            config.temp_dir.mkdir(parents=True, exist_ok=True, mode=0o750)
            mode = config.temp_dir.stat().st_mode
            if mode & 0o007:  # segments before publication, keys, state: not for others
                config.temp_dir.chmod(mode & 0o770)
                log.info("temp_dir closed to other users", path=str(config.temp_dir))
        except OSError as exc:
            raise FatalError(f"temp_dir {config.temp_dir}: {exc.strerror}") from None
        config, breaks, skipped = find_breaks(config)  # a file input's SCTE-35
        self.config = config
        self.metrics.scte35_errors(skipped)
        state = self._store.load()
        # Without encryption now, what an earlier run scheduled for its keys is kept.
        self._keys_at_start = state.keys
        parts = assemble(config, ffmpeg.path, state, self.metrics, self._on_listening)
        parts.intake.cues.schedule(breaks)
        for warning in config.warnings:
            log.warning("config", problem=warning)
        log.info("hlsd starting", rungs=[p.name for p in config.encoding_profiles],
                 destinations=parts.destinations.names(), live=config.live,
                 ffmpeg=ffmpeg.path, next_seq=parts.rungs.next_seq,
                 target_duration=config.target_duration,
                 event_loop=type(asyncio.get_running_loop()).__module__.split(".")[0])
        return parts

    async def _main(self, parts: Parts, tg: asyncio.TaskGroup) -> None:
        parts.destinations.start(tg)
        if parts.keys is not None:
            tg.create_task(parts.keys.run(), name="keys")
        tg.create_task(parts.intake.run(), name="gaps")
        parts.rungs.start(tg, list(self.config.encoding_profiles))
        tg.create_task(self._persist_loop(parts), name="persist")
        tg.create_task(self._reload_loop(parts, tg), name="reload")
        self._serve_control(parts, tg)
        try:
            await parts.origin.start(self.config)
        except OriginError as exc:
            raise FatalError(str(exc)) from None
        await self._rungs_spawned(parts)
        self.notifier.ready(parts.status.line())
        tg.create_task(self._watchdog_loop(parts), name="watchdog")  # pings after READY=1
        finished = asyncio.Event()
        tg.create_task(self._all_finished(parts, finished), name="finish")
        if await _first(self.controls.stop, finished) is self.controls.stop:
            await self._graceful_stop(parts)
        else:
            self.notifier.stopping()
            log.info("input finished; everything published")
        raise _Stop

    def _serve_control(self, parts: Parts, tg: asyncio.TaskGroup) -> None:
        """The control socket in temp_dir; moved with it by a reload (`hlsd cue` looks
        for it in the config's temp_dir)."""
        if self._control is not None:
            self._control.cancel()
        with contextlib.suppress(OSError):  # (serve_control says why it cannot serve)
            self.config.temp_dir.mkdir(parents=True, exist_ok=True, mode=0o750)
        self._control = tg.create_task(serve_control(
            self.config.temp_dir / SOCKET_NAME, parts.intake.cues), name="control")

    async def _rungs_spawned(self, parts: Parts) -> None:
        """Until every encoder runs (or its task ended): READY=1 means streaming."""
        deadline = time.monotonic() + SPAWN_GRACE
        while time.monotonic() < deadline and not parts.rungs.spawned():
            await asyncio.sleep(0.05)

    async def _all_finished(self, parts: Parts, finished: asyncio.Event) -> None:
        """Finite input: set `finished` once every rung ended and every destination
        published ENDLIST (a live input never finishes)."""
        if self.config.live:
            return
        await parts.rungs.inputs_ended.wait()
        await parts.destinations.wait_finished(parts.rungs.names())
        finished.set()

    async def _graceful_stop(self, parts: Parts) -> None:
        log.info("stopping: finishing the segments in flight")
        self.notifier.stopping()
        await parts.rungs.stop_all()
        await parts.destinations.drain(DRAIN_GRACE)

    # -- state, notify ---------------------------------------------------------------------
    def _save_state(self, parts: Parts) -> None:
        try:
            keys = parts.keys.state() if parts.keys is not None else self._keys_at_start
            self._store.save(DaemonState(parts.rungs.next_seq, parts.destinations.snapshot(),
                                         keys, parts.intake.cues.state()))
        except OSError as exc:
            log.error("cannot save state", path=str(self._store.path), error=exc.strerror)

    async def _persist_loop(self, parts: Parts) -> None:
        saved = parts.intake.segments
        while True:
            await asyncio.sleep(PERSIST_EVERY)
            if parts.intake.segments != saved:
                saved = parts.intake.segments
                await asyncio.to_thread(self._save_state, parts)

    async def _watchdog_loop(self, parts: Parts) -> None:
        """WATCHDOG=1 only while every rung keeps producing (systemd restarts a stuck
        daemon), and a fresh STATUS= line every few seconds for `systemctl status`."""
        if not self.notifier.enabled:
            return
        async with asyncio.TaskGroup() as tg:
            # Silent once stopping: STOPPING=1 is the last word systemd should get.
            tg.create_task(watchdog_loop(
                self.notifier,
                lambda: not self.controls.stop.is_set() and parts.status.daemon_ok()))
            while True:
                await asyncio.sleep(STATUS_EVERY)
                self.notifier.status(parts.status.line())

    # -- reload ----------------------------------------------------------------------------
    async def _reload_loop(self, parts: Parts, tg: asyncio.TaskGroup) -> None:
        while True:
            await self.controls.reload.wait()
            self.controls.reload.clear()
            if self.controls.stop.is_set():
                continue  # stopping anyway: a reload now would only restart children
            self.notifier.reloading()
            try:
                await self._reload(parts, tg)
            except Exception:  # a half-applied reload must not end the stream
                log.exception("reload failed; the stream continues with what was applied")
            finally:
                self.notifier.ready(parts.status.line())

    async def _reload(self, parts: Parts, tg: asyncio.TaskGroup) -> None:
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
        new = replace(new, splice_points=self.config.splice_points)  # cut as at start
        old, self.config = self.config, new
        await apply_reload(parts, self.metrics, old, new, tg)
        if old.temp_dir != new.temp_dir:
            self._serve_control(parts, tg)


async def _first(*events: asyncio.Event) -> asyncio.Event:
    """Whichever of `events` is set first."""
    waits = {asyncio.ensure_future(e.wait()): e for e in events}
    try:
        done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()
    return waits[done.pop()]
