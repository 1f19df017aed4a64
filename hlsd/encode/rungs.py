"""The ladder's running encoders as one set: start, stop and restart them (one per rung,
or one shared by the ladder), number their segments, and tell when a finite input has
ended everywhere. What they produce goes to a RungSink (the publish stage's intake)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import structlog

from hlsd import config as cfg
from hlsd.encode.events import Event, SegmentReady
from hlsd.encode.groups import group_specs, make_fanout
from hlsd.encode.livecuts import LiveCuts
from hlsd.encode.sink import RungSink
from hlsd.encode.specs import Grid
from hlsd.encode.subtitlerungs import SubtitleRungs, is_subtitles
from hlsd.encode.supervisor import GroupSupervisor
from hlsd.ingest.build import reader_options
from hlsd.ingest.fanout import Fanout
from hlsd.ingest.stage import Ingest

log = structlog.get_logger()

STOP_GRACE = 10.0  # seconds for encoders to finish their segment on SIGTERM


class Rungs:
    """Every rung's encoder pipeline. Segment numbers are the ladder's: they continue
    from `next_seq` (persisted by the daemon) and never go back."""

    def __init__(self, config: cfg.Config, ffmpeg: str, sink: RungSink, next_seq: int,
                 max_duration: float,
                 make_ingest: Callable[[cfg.Config], Ingest | None] | None = None,
                 cuts: LiveCuts | None = None) -> None:
        """`make_ingest`: the stage that owns a live input, for a config where it does
        (hlsd.ingest.build); `cuts`: where marked splice frames are cut (hlsd.service.splices
        marks them)."""
        self._config = config
        self.cuts = cuts
        self._make_ingest = make_ingest or (lambda _config: None)
        self.ingest = self._make_ingest(config)
        self._ffmpeg = ffmpeg
        # Subtitle rungs follow the first variant's segments, told through this sink.
        self.subtitles = SubtitleRungs(sink)
        self._sink: RungSink = self.subtitles
        self._next_seq = next_seq
        self._max_duration = max_duration  # fixed with the playlists' target duration
        self.by_rung: dict[str, GroupSupervisor] = {}  # rung -> its (maybe shared) encoder
        self.started_at: dict[str, float] = {}  # rungs a reload (re)started: own grace
        self._grid: Grid | None = None  # the ladder's segment grid, from its first segment
        self._switch_seqs: dict[int, int] = {}  # source switch -> its runs' first number
        self._last_seq: dict[str, int] = {}  # rung -> its newest segment's number
        self.finished: set[str] = set()
        self.inputs_ended = asyncio.Event()  # finite input: every rung's encoder is done
        self._stopping = False  # during a stop, an encoder ending is not end of input
        self._fanout: Fanout | None = None
        self._fanout_task: asyncio.Task[None] | None = None
        self._tasks: dict[str, asyncio.Task[None]] = {}  # group name -> task
        self._ran: set[str] = set()  # rungs started at least once in this daemon's life

    def __contains__(self, rung: str) -> bool:
        return rung in self.by_rung or rung in self.subtitles

    def names(self) -> list[str]:
        return list(self.by_rung)

    def groups(self) -> set[GroupSupervisor]:
        return set(self.by_rung.values())

    @property
    def next_seq(self) -> int:
        """The number the next new segment gets (persisted across restarts)."""
        return self._next_seq

    def reconfigure(self, config: cfg.Config) -> None:
        """A reload's config: encoders started from now on use it. New input settings
        get a new ingest stage (the encoders, which restart with them, join it)."""
        old, self._config = self._config, config
        if ingest_settings(old) != ingest_settings(config):
            if self._fanout_task is not None and self.ingest is not None:
                self._fanout_task.cancel()
                self._fanout_task = None
            self.ingest = self._make_ingest(config)

    # -- what supervisors need (PipelineHost) -----------------------------------------------
    def start_seq(self) -> int:
        return self._next_seq

    def switch_seq(self, switch: int, rungs: tuple[str, ...]) -> int:
        if switch not in self._switch_seqs:
            self._switch_seqs = {switch: self._next_seq}  # older switches are done with
            self._grid = None  # the new source's first segment fixes the grid again
        # A rung whose old run ended later with one more segment never reuses its number.
        last = max((self._last_seq.get(r, -1) for r in rungs), default=-1)
        return max(self._switch_seqs[switch], last + 1)

    def rejoin_grid(self) -> Grid | None:
        """The grid a restarted per-rung encoder rejoins while other rungs keep running."""
        return self._grid if len(self.groups()) > 1 else None

    async def report(self, rung: str, event: Event) -> None:
        if isinstance(event, SegmentReady):
            self._next_seq = max(self._next_seq, event.seq + 1)
            self._last_seq[rung] = event.seq
            if self._grid is None:  # the ladder's first segment fixes the grid
                self._grid = Grid(event.pts, event.seq)
        await self._sink.event(rung, event)

    def restarted(self, rung: str, failed: bool = True) -> None:
        self._sink.encoder_restarted(rung, failed)

    # -- start -----------------------------------------------------------------------------
    def start(self, tg: asyncio.TaskGroup, profiles: list[cfg.EncodingProfile],
              restarted: bool = False) -> None:
        self.subtitles.start(tg, self._config, self._ffmpeg,
                             [p for p in profiles if is_subtitles(p)])
        profiles = [p for p in profiles if not is_subtitles(p)]
        if not profiles:
            return
        if self._fanout is None and self._fanout_task is None and self.ingest is None:
            self._fanout = make_fanout(self._config, on_lagging=self._restart_group)
        specs = group_specs(self._config, profiles, self._ffmpeg, self._max_duration,
                            self._fanout, self.ingest, self.cuts)
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
            sup = GroupSupervisor(spec, self)
            for rung in spec.rungs:
                self.by_rung[rung.name] = sup
                if restarted:
                    self.started_at[rung.name] = time.monotonic()
                self._sink.rung_started(rung.name)
            self._tasks[spec.name] = tg.create_task(self._run_group(sup),
                                                    name=f"encoder {spec.name}")
        if self.ingest is not None and self._fanout_task is None:
            self.ingest.set_on_lagging(self._restart_group)
            self._fanout_task = tg.create_task(self.ingest.run(), name="ingest")
        elif self._fanout is not None and self._fanout_task is None:
            self._fanout.expect({s.name for s in specs})
            self._fanout_task = tg.create_task(self._fanout.run(), name="source")

    def spawned(self) -> bool:
        """Every encoder runs, or its task already ended."""
        def up(sup: GroupSupervisor) -> bool:
            task = self._tasks.get(sup.spec.name)
            return sup.encoder_pid is not None or task is None or task.done()
        return all(map(up, self.groups()))

    def _restart_group(self, group: str) -> None:
        for sup in self.groups():
            if sup.spec.name == group:
                sup.restart("it fell behind its source")

    async def _run_group(self, sup: GroupSupervisor) -> None:
        await sup.run()
        if not self._config.live and not self._stopping:
            for rung in sup.spec.rungs:
                self.finished.add(rung.name)
                self._sink.rung_finished(rung.name)
            if not set(self.by_rung) - self.finished:
                self.inputs_ended.set()

    # -- stop ------------------------------------------------------------------------------
    async def stop_all(self) -> None:
        """Each encoder finishes its segment in flight; one that hangs is cancelled."""
        self._stopping = True
        await self.subtitles.stop_all()
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
        await self.subtitles.stop(name)
        sup = self.by_rung.get(name)
        if sup is None:
            return
        for rung in sup.spec.rungs:
            self.by_rung.pop(rung.name, None)
        sup.stop()
        task = self._tasks.pop(sup.spec.name)
        _, pending = await asyncio.wait({task}, timeout=STOP_GRACE)
        if pending:
            log.warning("encoder did not stop in time; cancelling", group=sup.spec.name)
            task.cancel()

    def forget(self, name: str) -> None:
        """A rung removed by a reload."""
        self.started_at.pop(name, None)


def ingest_settings(config: cfg.Config) -> tuple[Any, ...]:
    """What the ingest stage is made of: a change needs a new one."""
    return (config.live, config.input_location, config.backup_inputs, config.input_loss,
            config.source_command, tuple(reader_options(config)))
