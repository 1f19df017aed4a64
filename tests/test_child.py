"""Why a child ended, in one log field (hlsd.child.exit_reason): ffmpeg's own reason, not
the banner it prints before it."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from hlsd.child import exit_reason
from hlsd.ingest.reader import InputReader

FFMPEG = shutil.which("ffmpeg")
needs_ffmpeg = pytest.mark.skipif(FFMPEG is None, reason="ffmpeg not on PATH")


@pytest.mark.parametrize(("lines", "fields"), [
    # ffmpeg 4-6
    (["ffmpeg version 5.1.6", "  built with gcc 12", "  configuration: --prefix=/usr",
      "  libavutil      57. 28.100 / 57. 28.100", "/srv/film.mp4: No such file or directory"],
     {"error": "/srv/film.mp4: No such file or directory"}),
    # ffmpeg 7: the last of three says it, without the address
    (["[in#0 @ 0x55d5c5f3a6c0] Error opening input: No such file or directory",
      "Error opening input file /srv/film.mp4.",
      "Error opening input files: No such file or directory"],
     {"error": "Error opening input files: No such file or directory"}),
    (["[tcp @ 0x5566] Connection to tcp://127.0.0.1:1935 failed: Connection refused",
      "rtmp://127.0.0.1/live/***: Connection refused"],
     {"error": "rtmp://127.0.0.1/live/***: Connection refused"}),
    # the generic last words are not the reason; the line before them is
    (["[libx264 @ 0x1] Error setting option foo.", "Conversion failed!"],
     {"error": "[libx264] Error setting option foo."}),
    # nothing that says why: the last lines as they are
    (["Input #0, mpegts, from 'pipe:0':", "  Duration: N/A", "frame=  10 fps=0.0", "x"],
     {"stderr_tail": "  Duration: N/A\nframe=  10 fps=0.0\nx"}),
    ([], {}),
])
def test_the_reason_is_the_last_line_that_says_why(lines: list[str],
                                                   fields: dict[str, str]) -> None:
    assert exit_reason(lines) == fields


@pytest.mark.e2e  # a real ffmpeg, briefly
@needs_ffmpeg
def test_ffmpegs_reason_for_a_missing_input_behind_its_banner(tmp_path: Path) -> None:
    """1. ffmpeg (banner and all, as an encoder runs it) is given an input that is not there
    2. the reason is its own words, one short line"""
    assert FFMPEG is not None
    missing = tmp_path / "film.mp4"
    out = subprocess.run([FFMPEG, "-nostdin", "-i", str(missing), "-f", "mpegts", "-"],
                         capture_output=True, text=True, timeout=30, check=False)
    assert out.returncode != 0 and len(out.stderr) > 500  # the banner
    (field, reason), = exit_reason(out.stderr.splitlines()).items()
    assert field == "error" and "No such file or directory" in reason and len(reason) < 200


class NoSink:
    def media(self, reader: InputReader, chunk: memoryview) -> None:
        raise AssertionError("no media from a missing file")

    def reader_line(self, reader: InputReader, line: str) -> None:
        pass


@pytest.mark.e2e
@needs_ffmpeg
async def test_an_input_reader_that_cannot_open_its_input_says_why(tmp_path: Path) -> None:
    """1. the ingest stage's reader is started on a file that is not there
    2. its warning carries ffmpeg's reason as `error=`, and no stderr dump"""
    assert FFMPEG is not None
    argv = [FFMPEG, "-nostdin", "-i", str(tmp_path / "gone.ts"), "-c", "copy", "-f", "mpegts",
            "-"]
    reader = InputReader("primary", argv, listener=False, sink=NoSink(), gap=1.0)
    with capture_logs() as logs:
        task = asyncio.create_task(reader.run())
        async with asyncio.timeout(20):
            while not any(e["event"] == "input reader ended; reopening" for e in logs):
                await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    (ended,) = [e for e in logs if e["event"] == "input reader ended; reopening"][:1]
    assert ended["log_level"] == "warning" and "No such file or directory" in ended["error"]
    assert "stderr_tail" not in ended
