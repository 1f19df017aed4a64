"""One input kept open: its reader process relays it as MPEG-TS, re-opened whenever it ends
(a listener at once, a pull input after at most READER_RETRY_CAP), and the last few
seconds it delivered are kept so an encoder joining it starts on a keyframe at once."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Protocol

import structlog

from hlsd.backoff import Backoff
from hlsd.child import Child, exit_reason
from hlsd.config.secret import redact_text
from hlsd.ingest.packets import read_packets, video_starts

log = structlog.get_logger()

# Kept for a joining encoder: covers one source GOP of up to this long (OBS and most
# encoders send a keyframe every 1-2 s), so its decoder starts without waiting.
RECENT_SECONDS = 2.0
READER_RETRY_CAP = 2.0  # a returning pull input is noticed this quickly at worst
LISTENER_SPIN = 0.5  # a listener that ends at once (port taken?) is re-opened after this
# A delivery with no video this long is audio only: every chunk is a place to start.
AUDIO_ONLY_AFTER = 1.0
# What ffmpeg's RTMP listener says, and then goes on anyway, when a publisher names
# another app or stream key: hlsd refuses that publisher (the key is the password).
WRONG_KEY = "Unexpected stream"


class ReaderSink(Protocol):
    def media(self, reader: InputReader, chunk: memoryview, key: bool) -> None:
        """Whole TS packets from `reader`'s input; `key`: an encoder may start there (a
        video keyframe begins in it, or the input has no video)."""

    def reader_line(self, reader: InputReader, line: str) -> None:
        """A line of the reader's ffmpeg stderr (what it found in the input)."""


class InputReader:
    def __init__(self, label: str, argv: Sequence[str], listener: bool, sink: ReaderSink,
                 gap: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.label = label
        self.argv = list(argv)
        self.listener = listener
        self._sink = sink
        self._gap = gap  # a pause this long starts a new delivery: older media is stale
        self._clock = clock
        self._recent: deque[tuple[float, memoryview, bool]] = deque()
        self._last = 0.0
        self._delivery = 0.0  # when the current delivery began
        self._video = False  # it carries video
        self.opened = 0  # reader runs started
        self._child: Child | None = None
        self.log = log.bind(input=label)

    def reopen_with(self, argv: list[str]) -> None:
        """Run `argv` from now on: the running reader ends, the new one starts at once."""
        self.argv = list(argv)
        if self._child is not None:
            self._child.kill()

    def recent(self) -> list[tuple[memoryview, bool]]:
        """What arrived in the last RECENT_SECONDS of the current delivery, from its last
        keyframe on when it holds one (chunk, key)."""
        self._trim(self._clock())
        chunks = [(chunk, key) for _, chunk, key in self._recent]
        last_key = max((i for i, (_, key) in enumerate(chunks) if key), default=0)
        return chunks[last_key:]

    def _trim(self, now: float) -> None:
        if now - self._last > self._gap:
            self._recent.clear()
            self._delivery, self._video = now, False
        while self._recent and now - self._recent[0][0] > RECENT_SECONDS:
            self._recent.popleft()

    async def run(self) -> None:
        backoff = Backoff(first=0.25, cap=READER_RETRY_CAP, healthy_after=10.0)
        failing = False
        while True:
            started = self._clock()
            code, reason = await self._read_once()
            ran = self._clock() - started
            if self.listener:
                delay = 0.0 if ran >= 1.0 else LISTENER_SPIN
            else:
                delay = backoff.next_delay(ran)
            # One warning per failing streak; each retry of a dead input says little new.
            report = self.log.debug if failing else self.log.warning
            report("input reader ended; reopening", code=code, delay=round(delay, 2),
                   **reason)
            failing = ran < 10.0
            await asyncio.sleep(delay)

    async def _read_once(self) -> tuple[int | None, dict[str, str]]:
        """One run of the reader: its exit code and why it ended (log fields)."""
        async with asyncio.TaskGroup() as tg:
            try:
                child = await Child.spawn(
                    self.argv, f"reader[{self.label}]", tg,
                    stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                    log_stderr=self._stderr)
            except OSError as exc:
                return None, {"error": str(exc)}
            self.opened += 1
            self._child = child
            self.log.info("input reader started", pid=child.pid,
                          listening=self.listener or None)
            assert child.proc.stdout is not None
            try:
                await read_packets(child.proc.stdout, self._deliver)
            finally:
                # A relay has nothing to flush, and ffmpeg blocked on a silent network
                # input does not heed SIGTERM: it is killed.
                child.kill()
                code = await child.wait()
        return code, exit_reason(child.tail)

    def _deliver(self, chunk: memoryview) -> None:
        now = self._clock()
        self._trim(now)
        video, key = video_starts(chunk)
        self._video = self._video or video
        # Until video shows up, only a delivery old enough counts as audio only.
        key = key or (not self._video and now - self._delivery >= AUDIO_ONLY_AFTER)
        self._recent.append((now, chunk, key))
        self._last = now
        self._sink.media(self, chunk, key)

    def _stderr(self, line: str) -> None:
        self.log.debug("reader", line=redact_text(line))
        if self.listener and WRONG_KEY in line and self._child is not None:
            self.log.warning("publisher refused: wrong stream key", line=redact_text(line))
            self._child.kill()  # before its media is relayed: the listener opens again
            return
        self._sink.reader_line(self, line)
