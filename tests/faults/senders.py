"""Live sources for continuity tests: a separate ffmpeg publishing a test pattern with a
tone over UDP, SRT (caller) or RTMP, each source told apart by its picture size and tone.

Segments of a rung whose command keeps the input's size show which source they came
from (`segment_source`); the slate is the last input's size with silence.
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

from tests.daemon_util import FAST_X264


@dataclass(frozen=True)
class Look:
    size: str  # WxH, tells the sources apart
    pattern: str = "testsrc2"
    tone: int = 440


class Publisher:
    """`ffmpeg -re` sending `look` to `url` (muxer `fmt`). `keep=True`: started again
    whenever it exits (a publisher retrying until a busy listener takes it)."""

    def __init__(self, url: str, look: Look, log: Path, fmt: str = "mpegts") -> None:
        self.url = url
        self.look = look
        self.fmt = fmt
        self._log = log
        self._proc: subprocess.Popen[bytes] | None = None
        self._keep = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.runs = 0

    def argv(self) -> list[str]:
        return ["ffmpeg", "-nostdin", "-v", "error", "-re", "-f", "lavfi",
                "-i", f"{self.look.pattern}=size={self.look.size}:rate=25",
                "-re", "-f", "lavfi", "-i", f"sine=frequency={self.look.tone}:sample_rate=48000",
                *FAST_X264.split(), "-g", "25", "-b:v", "400k", "-c:a", "aac", "-b:a", "64k",
                "-f", self.fmt, self.url]

    def start(self, keep: bool = False) -> Publisher:
        assert self._thread is None and self._proc is None, "already publishing"
        if keep:
            self._keep.set()
            self._thread = threading.Thread(target=self._keep_running, daemon=True)
            self._thread.start()
        else:
            self._spawn()
        return self

    def _spawn(self) -> subprocess.Popen[bytes]:
        with self._lock, self._log.open("ab") as log:
            self._proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL, stdout=log,
                                          stderr=log)
            self.runs += 1
            return self._proc

    def _keep_running(self) -> None:
        while self._keep.is_set():
            proc = self._spawn()
            proc.wait()
            self._keep.wait(0)  # at once: the listener may be free now
            if self._keep.is_set():
                threading.Event().wait(0.2)

    def stop(self, kill: bool = True) -> None:
        """Gone: SIGKILL (no goodbye) or SIGTERM (ffmpeg closes the connection)."""
        self._keep.clear()
        with self._lock:
            proc, self._proc = self._proc, None
        if proc is not None:
            proc.kill() if kill else proc.terminate()
            proc.wait(10)
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None


def probe(path: Path) -> list[dict[str, object]]:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries",
                          "stream=codec_type,codec_name,width,height,sample_rate",
                          "-of", "json", str(path)], capture_output=True, text=True,
                         timeout=30, check=True).stdout
    streams: list[dict[str, object]] = json.loads(out)["streams"]
    return streams


def max_volume(path: Path) -> float:
    """The loudest sample of the audio, in dB (silence: -91 dB)."""
    out = subprocess.run(["ffmpeg", "-nostdin", "-i", str(path), "-map", "0:a:0",
                          "-af", "volumedetect", "-f", "null", "-"], capture_output=True,
                         text=True, timeout=30, check=False).stderr
    found = re.search(r"max_volume: (-?[\d.]+|-inf) dB", out)
    assert found, out[-500:]
    return -200.0 if found.group(1) == "-inf" else float(found.group(1))


def decode_errors(path: Path) -> str:
    """What ffmpeg says decoding the whole segment (empty: it decodes cleanly)."""
    return subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(path),
                           "-f", "null", "-"], capture_output=True, text=True, timeout=30,
                          check=False).stderr.strip()


def segment_source(path: Path, looks: dict[str, Look]) -> str:
    """Which source a segment came from: the look whose size it has, or "slate" when its
    audio is silent."""
    streams = probe(path)
    video = next(s for s in streams if s["codec_type"] == "video")
    if any(s["codec_type"] == "audio" for s in streams) and max_volume(path) < -60:
        return "slate"
    size = f"{video['width']}x{video['height']}"
    return next((name for name, look in looks.items() if look.size == size), size)
