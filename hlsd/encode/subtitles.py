"""Subtitle renditions: per subtitles profile an ffmpeg writing WebVTT to stdout, its cues
cut into .vtt segments that follow the reference rung's segments one for one (same
numbers, spans and discontinuities), so the subtitle playlist lines up with the ladder.

The cues keep ffmpeg's output clock (LOCAL); the MPEG-TS muxer of the video rungs shifts
that clock by 2 x -muxdelay (0.7 s unless the command sets it; none with -mpegts_copyts 1),
which is what each segment's X-TIMESTAMP-MAP says.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import structlog

from hlsd.backoff import Backoff
from hlsd.child import Child, exit_reason
from hlsd.encode.events import SegmentReady
from hlsd.encode.webvtt import TICKS, Cue, CueReader, WebVttError, overlapping, render_segment

log = structlog.get_logger()

WAIT_FILE = 30.0  # seconds a file's segment waits for its cues (they come faster than that)
WAIT_LIVE = 0.25  # a live one: cues arrive in real time, ahead of the encoded video
FLUSH = ["-flush_packets", "1"]  # each cue leaves ffmpeg at once, not with 32 KiB of others


class SubtitleTrack:
    """One subtitles profile: its ffmpeg, the cues it wrote, the segments cut from them."""

    def __init__(self, name: str, argv: list[str], workdir: Path, prefix: str, zero: int,
                 live: bool) -> None:
        self.name = name
        self.argv = argv if "-flush_packets" in argv else [*argv[:-1], *FLUSH, argv[-1]]
        self.workdir = workdir
        self.prefix = prefix
        self.zero = zero  # MPEG-TS timestamp of the cues' time 0
        self.live = live
        self.cues: list[Cue] = []
        self.latest = float("-inf")  # start of the newest cue
        self.ended = False
        self.child: Child | None = None
        self._stopping = False
        self._news = asyncio.Event()

    async def run(self, tg: asyncio.TaskGroup) -> None:
        """ffmpeg to its end; live: again after a backoff (cues restart with its clock)."""
        backoff = Backoff()
        while not self._stopping:
            began = time.monotonic()
            self.child = await Child.spawn(self.argv, f"subtitles {self.name}", tg,
                                           stdout=asyncio.subprocess.PIPE)
            await self._read(self.child)
            code = await self.child.wait()
            if self._stopping:
                break
            if code != 0:  # e.g. bitmap subtitles: ffmpeg cannot make text of them
                log.error("subtitle encoder failed; its segments stay empty", rung=self.name,
                          code=code, **exit_reason(self.child.tail))
            if not self.live:
                break
            delay = backoff.next_delay(time.monotonic() - began)
            log.warning("subtitle encoder exited; restarting", rung=self.name, code=code,
                        delay=round(delay, 2))
            await asyncio.sleep(delay)
        self.ended = True
        self._news.set()

    async def _read(self, child: Child) -> None:
        assert child.proc.stdout is not None
        reader = CueReader()
        try:
            while chunk := await child.proc.stdout.read(65536):
                self.add(reader.feed(chunk.decode("utf-8", "replace")))
            self.add(reader.close())
        except WebVttError as exc:
            log.error("subtitle encoder does not write WebVTT", rung=self.name, error=str(exc))
            child.kill()

    def add(self, cues: list[Cue]) -> None:
        """Cues the encoder wrote, in its order."""
        if cues:
            self.cues += cues
            self.latest = max(self.latest, *(c.start for c in cues))
            self._news.set()

    async def covered(self, until: float, timeout: float) -> None:
        """Until a cue starts at or after `until` (all before it are known), the end, or
        `timeout`."""
        deadline = time.monotonic() + timeout
        while self.latest < until and not self.ended:
            self._news.clear()
            left = deadline - time.monotonic()
            if left <= 0:
                return
            try:
                async with asyncio.timeout(left):
                    await self._news.wait()
            except TimeoutError:
                return

    async def follow(self, ref: SegmentReady) -> SegmentReady:
        """The segment spanning what the reference rung's `ref` spans, once its cues are
        known (or waited for long enough)."""
        end = (ref.pts - self.zero) / TICKS + ref.duration
        await self.covered(end, WAIT_LIVE if self.live else WAIT_FILE)
        return self.cut(ref)

    def cut(self, ref: SegmentReady) -> SegmentReady:
        """The segment spanning what `ref` spans, written under its final name."""
        start = (ref.pts - self.zero) / TICKS
        end = start + ref.duration
        cues = overlapping(self.cues, start, end)
        self.cues = [c for c in self.cues if c.end > start]  # older ones are done with
        path = self.workdir / f"{self.prefix}-{ref.seq:05d}.vtt"
        data = render_segment(cues, self.zero).encode()
        path.write_bytes(data)
        return SegmentReady(seq=ref.seq, file=str(path), duration=ref.duration, pts=ref.pts,
                            bytes=len(data), keyframe=True, discontinuity=ref.discontinuity)

    def stop(self) -> None:
        self._stopping = True
        if self.child is not None:
            self.child.kill()
