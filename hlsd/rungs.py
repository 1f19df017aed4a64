"""The ladder's running encoders as one set: start, stop and restart them (one per rung,
or one shared by the ladder), and tell when a finite input has ended everywhere."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import structlog

from hlsd import config as cfg
from hlsd.destinations import Destinations
from hlsd.encoders import group_specs, make_fanout
from hlsd.fanout import Fanout
from hlsd.metrics import Metrics
from hlsd.supervisor import EventSink, Grid, GroupSupervisor

log = structlog.get_logger()

STOP_GRACE = 10.0  # seconds for encoders to finish their segment on SIGTERM


class Rungs:
    def __init__(self, config: cfg.Config, target_duration: int, on_event: EventSink,
                 next_seq: Callable[[], int], stopping: Callable[[], bool],
                 destinations: Destinations, metrics: Metrics) -> None:
        self.config = config  # the daemon swaps in a reloaded one
        self.ffmpeg: str | None = None  # found at start-up
        self.target_duration = target_duration
        self.on_event = on_event
        self.next_seq = next_seq
        self.destinations = destinations
        self.metrics = metrics
        self.by_rung: dict[str, GroupSupervisor] = {}  # rung -> its (maybe shared) encoder
        self.started_at: dict[str, float] = {}  # rungs a reload (re)started: own grace
        self.grid: Grid | None = None  # the ladder's segment grid, from its first segment
        self.finished: set[str] = set()
        self.inputs_ended = asyncio.Event()  # finite input: every rung's encoder is done
        self.stopping = stopping  # during a stop, an encoder ending is not end of input
        self.fanout: Fanout | None = None
        self._fanout_task: asyncio.Task[None] | None = None
        self._tasks: dict[str, asyncio.Task[None]] = {}  # group name -> task
        self._ran: set[str] = set()  # rungs started at least once in this daemon's life

    def __contains__(self, rung: str) -> bool:
        return rung in self.by_rung

    def names(self) -> list[str]:
        return list(self.by_rung)

    def groups(self) -> set[GroupSupervisor]:
        return set(self.by_rung.values())

    def first_segment(self, pts: int, seq: int) -> None:
        """The ladder's first segment fixes the grid restarted encoders rejoin."""
        if self.grid is None:
            self.grid = Grid(pts, seq)

    # -- start -----------------------------------------------------------------------------
    def start(self, tg: asyncio.TaskGroup, profiles: list[cfg.EncodingProfile],
              restarted: bool = False) -> None:
        assert self.ffmpeg is not None, "start() before ffmpeg was found"
        if self.fanout is None and self._fanout_task is None:
            self.fanout = make_fanout(self.config, on_lagging=self._restart_group)
        specs = group_specs(self.config, profiles, self.ffmpeg, self.target_duration,
                            self.fanout)
        for spec in specs:
            for rung in spec.rungs:
                if rung.name not in self._ran:
                    # Finished files of an earlier daemon run, never announced. A rung
                    # that ran before in this one is not swept: its announced segments
                    # may still wait there for a destination (unfinished *.tmp files are
                    # the supervisor's to delete).
                    for leftover in rung.workdir.glob(f"{rung.prefix}-*"):
                        leftover.unlink(missing_ok=True)
                self._ran.add(rung.name)
            sup = GroupSupervisor(spec, self.on_event, self.next_seq,
                                  on_restart=self.metrics.encoder_restart,
                                  grid=self._rejoin_grid)
            for rung in spec.rungs:
                self.by_rung[rung.name] = sup
                if restarted:
                    self.started_at[rung.name] = time.monotonic()
                for dest in self.destinations:
                    dest.add_rung(rung.name)
            self._tasks[spec.name] = tg.create_task(self._run_group(sup),
                                                    name=f"encoder {spec.name}")
        if self.fanout is not None and self._fanout_task is None:
            self.fanout.expect({s.name for s in specs})
            self._fanout_task = tg.create_task(self.fanout.run(), name="source")

    def spawned(self) -> bool:
        """Every encoder runs, or its task already ended."""
        def up(sup: GroupSupervisor) -> bool:
            task = self._tasks.get(sup.spec.name)
            return sup.encoder_pid is not None or task is None or task.done()
        return all(map(up, self.groups()))

    def _rejoin_grid(self) -> Grid | None:
        """The grid a restarted per-rung encoder rejoins while other rungs keep running."""
        return self.grid if len(self.groups()) > 1 else None

    def _restart_group(self, group: str) -> None:
        for sup in self.groups():
            if sup.spec.name == group:
                sup.restart("it fell behind its source")

    async def _run_group(self, sup: GroupSupervisor) -> None:
        await sup.run()
        if not self.config.is_live and not self.stopping():
            for rung in sup.spec.rungs:
                self.finished.add(rung.name)
                for dest in self.destinations:
                    dest.finish_rung(rung.name)
            if not set(self.by_rung) - self.finished:
                self.inputs_ended.set()

    # -- stop ------------------------------------------------------------------------------
    async def stop_all(self) -> None:
        """Each encoder finishes its segment in flight; one that hangs is cancelled."""
        for sup in self.groups():
            sup.stop()
        tasks = list(self._tasks.values())
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=STOP_GRACE)
            for task in pending:
                log.warning("encoder did not stop in time; cancelling", task=task.get_name())
                task.cancel()

    async def stop(self, name: str) -> None:
        """Stop the encoder of rung `name` (in shared mode: of the whole ladder)."""
        sup = self.by_rung.get(name)
        if sup is None:
            return
        for rung in sup.spec.rungs:
            self.by_rung.pop(rung.name, None)
        sup.stop()
        task = self._tasks.pop(sup.spec.name)
        try:
            await asyncio.wait_for(task, STOP_GRACE)
        except TimeoutError:
            log.warning("encoder did not stop in time", group=sup.spec.name)

    def forget(self, name: str) -> None:
        """A rung removed by a reload."""
        self.started_at.pop(name, None)
