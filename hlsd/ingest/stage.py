"""The ingest stage: owns a live input. It keeps the input and its backups open (warm),
notices loss within `input_loss.after`, switches to the first input that delivers (or
the slate), and hands the encoders one stream at a time.

A switch ends the encoder runs fed by the old source (their pipes close: they encode
what they got, the segmenters write their last segment) and the new runs start on the
new source's last GOP, so every join is a new pipeline run: `#EXT-X-DISCONTINUITY`,
numbering continued. Encoders waiting for their first bytes are simply fed.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import structlog

from hlsd.config.secret import redact_text
from hlsd.ingest.inputs import InputSpec
from hlsd.ingest.policy import SLATE, OnAir, Switcher
from hlsd.ingest.reader import InputReader
from hlsd.ingest.slate import SourceShape, slate_argv, update_shape
from hlsd.ingest.subscribers import Subscribers

log = structlog.get_logger()

# An input stream MPEG-TS cannot carry (a capture device's raw picture or PCM sound).
UNCOMPRESSED = re.compile(r"Stream #0:\d+\S*: (Video: rawvideo|Audio: pcm_)")
STREAMS_LISTED = "Stream mapping:"  # a reader's stream list is complete (after it: its SCTE-35)
TICK = 0.1  # seconds between looks at the inputs: loss is noticed within after + TICK
SLATE_LINGER = 10.0  # the slate's reader stays up this long after an input took over


class IngestReport(Protocol):
    def input_on_air(self, label: str, switched: bool) -> None:
        """`label` is on air now ("primary", "backup 1", "slate", "lost", "waiting")."""


class SourcePackets(Protocol):
    def source_packets(self, index: int, chunk: memoryview) -> None:
        """Packets of input `index` (0: the primary) while it is on air, as the encoders
        get them (the SCTE-35 in them: hlsd.service.splices)."""

    def source_line(self, index: int, line: str) -> None:
        """A line of input `index`'s reader (its start time among them)."""

    def rewrite(self, index: int, chunk: memoryview, on_air: bool) -> None:
        """Input `index`'s packets before anyone gets them, on air or not: its splice
        frames marked in place (only an input with SCTE-35)."""

    def marks(self, index: int) -> bool | None:
        """Input `index`'s splice frames are marked; None: not known yet."""


class Ingest:
    """The encoders' Feed for a live input hlsd opens itself."""

    def __init__(self, inputs: list[InputSpec], after: float, slate: Path | bool | None,
                 ffmpeg: str, report: IngestReport | None = None,
                 tap: SourcePackets | None = None) -> None:
        """`slate`: a file, True for the generated card, False/None for no slate;
        `tap`: who else reads the input on air."""
        self.inputs = inputs
        self.after = after
        self._slate_file = slate if isinstance(slate, Path) else None
        # Asked once, at start: the slate is started when the input falls silent.
        self._drawtext = slate is True and _has_drawtext(ffmpeg)
        self._ffmpeg = ffmpeg
        self._report = report
        self._subs = Subscribers()
        self._readers = [InputReader(s.label, s.argv, s.listener, self, gap=after)
                         for s in inputs]
        self._index = {id(r): i for i, r in enumerate(self._readers)}
        self._tap = tap
        self._switcher = Switcher(len(inputs), after, slate not in (None, False),
                                  inputs[0].listener, time.monotonic())
        self._shapes: dict[int, SourceShape] = {}  # input index -> what its reader found
        self._slate: InputReader | None = None
        self._slate_task: asyncio.Task[None] | None = None
        self._slate_idle_since: float | None = None
        self.switches = 0
        self._raw: set[int] = set()  # inputs found uncompressed
        self._rejoining: set[str] = set()  # encoders a switch ended, not yet back
        self._on_air_since: float | None = None
        self._tg: asyncio.TaskGroup | None = None
        self._marks_known: bool | None = None  # the last input on air marks its splices
        self._started_marking: dict[str, bool] = {}  # encoder -> its answer at its start

    # -- the encoders' side (Feed) ---------------------------------------------------------
    def set_on_lagging(self, on_lagging: Callable[[str], None]) -> None:
        """Called with an encoder's name when it fell too far behind to keep feeding."""
        self._subs.set_on_lagging(on_lagging)

    def expect(self, names: set[str]) -> None:
        self._subs.expect(names)

    def subscribe(self, name: str) -> int:
        """A pipe for encoder `name`. One that a switch ended starts on the new source's
        last GOP, like every rung restarted with it; any other (a crashed encoder coming
        back) joins at the live point, on the grid of the rungs that kept running."""
        fd = self._subs.subscribe(name)
        source = self._source()
        if name in self._rejoining and source is not None:
            for chunk, key in source.recent():
                self._subs.publish(chunk, only=name, key=key)
        self._rejoining.discard(name)
        return fd

    def switched_away(self, name: str) -> bool:
        return name in self._rejoining

    def on_air_since(self) -> float | None:
        """Monotonic time the current source went on air; None while nothing is."""
        return self._on_air_since

    def marks_splices(self, name: str) -> bool:
        """While no input is on air (lost, waiting): as the last one known (an encoder
        restarted then is ready when it comes back); False until one was known."""
        on_air = self._switcher.on_air
        known = False
        if self._tap is not None and on_air != SLATE:
            now = self._tap.marks(on_air) if isinstance(on_air, int) else None
            self._marks_known = self._marks_known if now is None else now
            known = bool(self._marks_known)
        self._started_marking[name] = known
        return known

    def _marks_decided(self, index: int) -> None:
        """Input `index` on air, its streams listed: encoders started on another answer
        and not fed yet start again at once, like after a switch (all on the same GOP)."""
        known = self._tap.marks(index) if self._tap is not None else None
        if known is None or self._switcher.on_air != index:
            return
        self._marks_known = known
        wrong = [n for n in self._subs.unfed() if self._started_marking.get(n, known) != known]
        for name in wrong:
            self._subs.drop(name)
        self._rejoining |= set(wrong)
        if wrong:
            log.info("encoders started again to key the input's SCTE-35 splice frames"
                     if known else "encoders started again: the input has no SCTE-35",
                     encoders=wrong)

    @property
    def on_air(self) -> str:
        return self._label(self._switcher.on_air)

    def state(self) -> dict[str, Any]:
        """For /healthz and /info.json."""
        now = time.monotonic()
        return {"on_air": self.on_air, "switches": self.switches, "inputs": [
            {"input": s.label, "location": redact_text(s.location), "listener": s.listener,
             "delivering": self._switcher.alive(i, now),
             "idle_seconds": _round(self._switcher.idle_for(i, now))}
            for i, s in enumerate(self.inputs)]}

    # -- running -----------------------------------------------------------------------------
    async def run(self) -> None:
        for spec in self.inputs:
            log.info("input", input=spec.label, location=redact_text(spec.location),
                     listener=spec.listener, reader=redact_text(" ".join(spec.argv)))
        async with asyncio.TaskGroup() as tg:
            self._tg = tg
            for reader in self._readers:
                tg.create_task(reader.run(), name=f"input {reader.label}")
            self._announce(switched=False)
            while True:
                await asyncio.sleep(TICK)
                self._tick(time.monotonic())

    def _tick(self, now: float) -> None:
        before = self._switcher.on_air
        after = self._switcher.decide(now)
        if after == SLATE or self._suspect(after, now):
            self._slate_idle_since = None
            self._start_slate()
        elif self._slate_task is not None:
            self._slate_idle_since = self._slate_idle_since or now
            if now - self._slate_idle_since > SLATE_LINGER:
                self._stop_slate()
        if after != before:
            self._switch(before, after, now)

    def _suspect(self, on_air: OnAir, now: float) -> bool:
        """The on-air input has been silent for half of `after`: the slate is started
        now, so that it has a GOP to give the encoders if the input is lost."""
        if not self._switcher.slate or not isinstance(on_air, int):
            return False
        idle = self._switcher.idle_for(on_air, now)
        return idle is not None and idle >= self.after / 2

    def _switch(self, before: OnAir, after: OnAir, now: float) -> None:
        self.switches += 1
        ended = self._subs.drop_fed()  # their supervisors start them again on the new source
        self._rejoining = set(ended)
        if isinstance(after, int):  # waiting ones started on the wrong answer too
            self._marks_decided(after)
        source = self._source()
        self._on_air_since = now if source is not None else None
        if source is not None:
            for chunk, key in source.recent():  # the encoders still waiting start on it now
                self._subs.publish(chunk, key=key)
        log.warning("input switched", on_air=self._label(after), was=self._label(before),
                    encoders_restarted=ended)
        self._announce(switched=True)

    def _announce(self, switched: bool) -> None:
        if self._report is not None:
            self._report.input_on_air(self.on_air, switched)

    def _source(self) -> InputReader | None:
        on_air = self._switcher.on_air
        if isinstance(on_air, int):
            return self._readers[on_air]
        return self._slate if on_air == SLATE else None

    def _label(self, on_air: OnAir) -> str:
        return self.inputs[on_air].label if isinstance(on_air, int) else on_air

    # -- the slate ---------------------------------------------------------------------------
    def _start_slate(self) -> None:
        if self._slate_task is not None or self._tg is None:
            return
        argv = slate_argv(self._ffmpeg, self._slate_file, self._slate_shape(),
                          self._drawtext)
        self._slate = InputReader(SLATE, argv, listener=False, sink=self, gap=self.after)
        self._slate_task = self._tg.create_task(self._slate.run(), name="input slate")

    def _stop_slate(self) -> None:
        if self._slate_task is not None:
            self._slate_task.cancel()
        self._slate_task = self._slate = None
        self._slate_idle_since = None

    # -- the readers' sink -------------------------------------------------------------------
    def media(self, reader: InputReader, chunk: memoryview, key: bool) -> None:
        index = self._index.get(id(reader))
        on_air = reader is self._source()
        if index is not None:
            self._switcher.media(index, time.monotonic())
        if index is not None and self._tap is not None:  # (not the slate)
            if on_air:  # its cues first: a splice point may come in this very chunk
                self._tap.source_packets(index, chunk)
            self._tap.rewrite(index, chunk, on_air)  # (the reader keeps it for a switch)
        if on_air:
            self._subs.publish(chunk, key=key)

    def reader_line(self, reader: InputReader, line: str) -> None:
        index = self._index.get(id(reader))
        if UNCOMPRESSED.search(line) and index is not None and index not in self._raw:
            self._raw.add(index)
            mezzanine = self.inputs[index].mezzanine
            if mezzanine:
                log.warning("input is uncompressed: its reader encodes it (x264, AAC) "
                            "before relaying", input=reader.label, stream=line.strip())
                reader.reopen_with(list(mezzanine))
            else:
                log.error("input is uncompressed, which the source_command cannot relay as "
                          "MPEG-TS: make it encode (README: Capture devices)",
                          input=reader.label, stream=line.strip())
        if index is not None and self._tap is not None:
            self._tap.source_line(index, line)
            if line.startswith(STREAMS_LISTED):
                self._marks_decided(index)
        if index is not None:  # the slate takes the inputs' shape, not its own
            self._shapes[index] = update_shape(self._shapes.get(index, SourceShape()), line)

    def _slate_shape(self) -> SourceShape:
        """The programme's shape: the primary's, else that of the first input that said
        its own (a rung that keeps its input's size shows the slate at its usual size)."""
        return next((self._shapes[i] for i in sorted(self._shapes)), SourceShape())


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _has_drawtext(ffmpeg: str) -> bool:
    """Can this ffmpeg write text on the generated card (it needs libfreetype)?"""
    try:
        out = subprocess.run([ffmpeg, "-hide_banner", "-filters"], capture_output=True,
                             text=True, timeout=10, check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        out = ""
    return " drawtext " in out and shutil.which("fc-match") is not None
