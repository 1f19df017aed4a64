"""Whether the encoders key a live input's SCTE-35 splice frames (Ingest.marks_splices):
answered at each encoder start; one started on another answer and not fed yet is ended
to start again at once, like after a switch."""

from __future__ import annotations

import asyncio
import os
import time

from hlsd.ingest.inputs import InputSpec
from hlsd.ingest.policy import JOIN_MIN
from hlsd.ingest.stage import Ingest

SCTE35 = "  Stream #0:2[0x1f0]: Data: scte_35"
LISTED = "Stream mapping:"


class Tap:
    """The splice reader's side (hlsd.service.splices.LiveSplices), reduced to its answer."""

    def __init__(self) -> None:
        self.cued: bool | None = None
        self.listed = False

    def source_packets(self, index: int, chunk: memoryview) -> None:
        pass

    def source_line(self, index: int, line: str) -> None:
        self.listed = self.listed or "scte_35" in line
        if line.startswith(LISTED):
            self.cued = self.listed

    def rewrite(self, index: int, chunk: memoryview, on_air: bool) -> None:
        pass

    def marks(self, index: int) -> bool | None:
        return self.cued


def on_air(lines: list[str]) -> tuple[Ingest, bool, bool]:
    """An encoder started before its input was known; the input lists `lines`, then
    comes on air: (the ingest, the encoder ended to start again, its new answer)."""
    async def run() -> tuple[Ingest, bool, bool]:
        spec = InputSpec("primary", "udp://127.0.0.1:1", False, ("ffmpeg",), ())
        ingest = Ingest([spec], after=1.0, slate=None, ffmpeg="ffmpeg", tap=Tap())
        fd = ingest.subscribe("ladder")
        assert ingest.marks_splices("ladder") is False  # nothing known: as always
        reader = ingest._readers[0]
        for line in lines:
            ingest.reader_line(reader, line)
        now = time.monotonic()
        for at in (now, now + JOIN_MIN):  # delivering long enough to join
            ingest._switcher.media(0, at)
        ingest._tick(now + JOIN_MIN)
        assert ingest.on_air == "primary"
        restarted = ingest.switched_away("ladder")
        os.close(fd)
        return ingest, restarted, ingest.marks_splices("ladder")

    return asyncio.run(run())


def test_an_encoder_waiting_for_an_input_with_scte35_starts_again_keying_it() -> None:
    _, restarted, marks = on_air([SCTE35, LISTED])
    assert restarted and marks


def test_an_input_without_scte35_changes_nothing() -> None:
    _, restarted, marks = on_air(["  Stream #0:0[0x100]: Video: h264", LISTED])
    assert not restarted and not marks


def test_while_no_input_is_on_air_the_last_answer_holds() -> None:
    ingest, _, _ = on_air([SCTE35, LISTED])
    ingest._switcher.on_air = "lost"
    assert ingest.marks_splices("ladder") is True
