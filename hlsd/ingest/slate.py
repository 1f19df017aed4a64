"""The slate: what the encoders get while every input is lost (pure: argv and parsing).

It is made in the input's own shape (size, frame rate, audio rate and channels, as the
readers' ffmpeg reported them), so each rung encodes it with its own settings into the
same sizes and rates as the programme; the audio is silence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

__all__ = ["SourceShape", "slate_argv", "update_shape"]

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif", ".tif",
                            ".tiff"})
VIDEO_LINE = re.compile(r"Stream #\d+:\d+.*?: Video: .*?\b(\d{2,5})x(\d{2,5})\b")
FPS = re.compile(r"\b(\d+(?:\.\d+)?) fps\b")
AUDIO_LINE = re.compile(r"Stream #\d+:\d+.*?: Audio: .*?\b(\d{4,6}) Hz, ([\w.()]+)")


@dataclass(frozen=True)
class SourceShape:
    width: int = 1280
    height: int = 720
    fps: float = 25.0
    sample_rate: int = 48000
    layout: str = "stereo"


def update_shape(shape: SourceShape, line: str) -> SourceShape:
    """`shape` with what one line of a reader's ffmpeg stderr says about the input."""
    if (video := VIDEO_LINE.search(line)) is not None:
        width, height = int(video.group(1)), int(video.group(2))
        fps = FPS.search(line)
        rate = float(fps.group(1)) if fps else shape.fps
        if width % 2 == 0 and height % 2 == 0 and 0 < rate <= 120:
            shape = replace(shape, width=width, height=height, fps=rate)
    elif (audio := AUDIO_LINE.search(line)) is not None:
        layout = audio.group(2).split("(")[0]
        shape = replace(shape, sample_rate=int(audio.group(1)),
                        layout=layout if layout in ("mono", "stereo") else "stereo")
    return shape


def slate_argv(ffmpeg: str, slate: Path | None, shape: SourceShape,
               drawtext: bool) -> list[str]:
    """A live (real-time) MPEG-TS of the slate with silence, in the input's shape."""
    w, h, fps = shape.width, shape.height, f"{shape.fps:g}"
    if slate is None:
        video = ["-f", "lavfi", "-i", f"smptehdbars=size={w}x{h}:rate={fps}"]
        look = "drawbox=x=0:y=ih*0.38:w=iw:h=ih*0.24:color=black@0.8:t=fill"
        if drawtext:
            look += (",drawtext=text='NO SIGNAL':fontcolor=white:fontsize=h/10"
                     ":x=(w-text_w)/2:y=(h-text_h)/2")
    else:
        loop = ["-loop", "1", "-framerate", fps] if slate.suffix.lower() in IMAGE_SUFFIXES \
            else ["-stream_loop", "-1"]
        video = [*loop, "-i", str(slate)]
        look = (f"scale={w}:{h}:force_original_aspect_ratio=decrease,"
                f"pad={w}:{h}:(ow-iw)/2:(oh-ih)/2,fps={fps}")
    return [ffmpeg, "-hide_banner", "-nostdin", "-nostats", "-re", *video,
            "-f", "lavfi", "-i", f"anullsrc=channel_layout={shape.layout}"
            f":sample_rate={shape.sample_rate}",
            "-filter_complex", f"[0:v]{look},format=yuv420p[v]", "-map", "[v]", "-map", "1:a",
            "-c:v", "libx264", "-preset", "ultrafast", "-tune", "stillimage",
            "-g", str(max(1, round(shape.fps))), "-c:a", "aac", "-b:a", "64k",
            "-f", "mpegts", "-flush_packets", "1", "-"]
