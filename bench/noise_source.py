"""The benchmarks' input: 1080p30 test pattern with temporal noise (so x264 really spends
its ~6 Mbit/s) plus a tone, encoded once and cached under /tmp/hlsd-bench."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CACHE = Path("/tmp/hlsd-bench")


def noise_source(name: str, seconds: int, noise: str = "alls=20:allf=t") -> Path:
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"{name}_1080p_{seconds}s.ts"
    if path.exists():
        return path
    print(f"encoding {seconds} s of 1080p noise into {path} (once; takes a few minutes)...",
          file=sys.stderr)
    part = path.with_suffix(".ts.part")
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y",
         "-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=30",
         "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
         "-t", str(seconds), "-vf", f"noise={noise}",
         "-c:v", "libx264", "-preset", "veryfast", "-b:v", "6M", "-maxrate", "6M",
         "-bufsize", "12M", "-g", "60", "-pix_fmt", "yuv420p",
         "-c:a", "aac", "-b:a", "128k", "-f", "mpegts", str(part)],
        check=True)
    part.rename(path)
    return path
