"""Turning an encoding profile's ffmpeg_command into argv (pure), and finding ffmpeg."""

from __future__ import annotations

import itertools
import shlex
import shutil
import subprocess
from dataclasses import dataclass

from hlsd.config.commands import split_input
from hlsd.ingest.inputs import ENCODER_FEED_OPTIONS, split_input_options

DEFAULT_MUXDELAY = 0.7  # seconds: ffmpeg's -muxdelay
TICKS = 90_000  # MPEG-TS timestamps per second
# Constant frame rate repeats a late-starting video's first frame back to output time 0.
# The keyframe grid counts from the video's first frame and each segmenter's grid from its
# stream's first timestamp: a video starting where its audio does (0) puts the video's
# boundaries where audio renditions cut theirs.
VIDEO_FROM_ZERO = ["-fps_mode", "cfr"]
ONE_FRAME_PER_PES = ["-pes_payload_size", "0"]
COPY_VIDEO = {("-c", "copy"), ("-codec", "copy"), ("-c:v", "copy"), ("-vcodec", "copy"),
              ("-codec:v", "copy")}


@dataclass(frozen=True)
class FfmpegBinary:
    path: str
    origin: str  # "PATH" or "imageio-ffmpeg"


def find_ffmpeg() -> FfmpegBinary | None:
    """The ffmpeg on PATH, else the static one inside the imageio-ffmpeg wheel."""
    found = shutil.which("ffmpeg")
    if found:
        return FfmpegBinary(found, "PATH")
    try:
        import imageio_ffmpeg

        return FfmpegBinary(imageio_ffmpeg.get_ffmpeg_exe(), "imageio-ffmpeg")
    except (ImportError, RuntimeError):
        return None


def ffmpeg_version(path: str) -> str:
    try:
        out = subprocess.run([path, "-hide_banner", "-version"], capture_output=True,
                             text=True, timeout=10, check=False).stdout
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unknown ({exc})"
    first = out.splitlines()[0] if out else "unknown"
    return first.removeprefix("ffmpeg version ").split(" Copyright")[0]


def sets_keyframes(argv: list[str]) -> bool:
    return any(a in ("-force_key_frames", "-g") or a.startswith(("-force_key_frames:", "-g:"))
               for a in argv)


def audio_only(argv: list[str]) -> bool:
    """The output has no video: -vn, or every -map selects audio."""
    maps = [b for a, b in itertools.pairwise(argv) if a == "-map"]
    return "-vn" in argv or (bool(maps) and all(":a" in m or m.startswith("a") for m in maps))


def copies_or_drops_video(argv: list[str]) -> bool:
    pairs = set(itertools.pairwise(argv))
    return audio_only(argv) or bool(pairs & COPY_VIDEO)


@dataclass(frozen=True)
class EncoderArgv:
    argv: list[str]
    added: tuple[str, ...]  # what hlsd inserted, for the log
    reads_stdin: bool


def encoder_argv(command: str, input_location: str, segment_length: float,
                 ffmpeg_path: str, from_source_command: bool,
                 cuts: tuple[float, ...] = (), from_zero: bool = False) -> EncoderArgv:
    """argv for one rung's encoder: input substituted, keyframe grid (and a keyframe at
    each of `cuts`, seconds) inserted if needed. `from_zero`: video that starts later than
    output time 0 is made to start there (see VIDEO_FROM_ZERO)."""
    argv = shlex.split(command)
    added: list[str] = []
    if argv[0] == "ffmpeg":
        argv[0] = ffmpeg_path
    stdin_input = from_source_command or input_location == "-"
    source = "pipe:0" if stdin_input else input_location
    uses_input = any("%s" in a for a in argv)
    argv = [a.replace("%s", source) for a in argv]
    if "-nostdin" not in argv and not (stdin_input and uses_input):
        argv.insert(1, "-nostdin")  # else ffmpeg reads keystrokes from our stdin
    if "-stats" not in argv and "-nostats" not in argv:
        argv.insert(1, "-nostats")  # progress lines are noise in logs, errors are not
    if not sets_keyframes(argv) and not copies_or_drops_video(argv):
        grid = keyframe_grid(segment_length, cuts)
        argv[-1:-1] = grid
        added.extend(grid)
    if from_zero and not copies_or_drops_video(argv) and not any(
            a in ("-vsync", "-fps_mode") or a.startswith("-fps_mode:") for a in argv):
        argv[-1:-1] = VIDEO_FROM_ZERO
        added.extend(VIDEO_FROM_ZERO)
    if audio_only(argv) and "-pes_payload_size" not in argv:
        # ffmpeg packs ~0.37 s of audio per PES by default and the segmenter cuts between
        # PES: one frame per PES lets audio cut on the video rungs' grid.
        argv[-1:-1] = ONE_FRAME_PER_PES
        added.extend(ONE_FRAME_PER_PES)
    return EncoderArgv(argv, tuple(added), reads_stdin=stdin_input and uses_input)


def fed_by_ingest(encoder: EncoderArgv) -> EncoderArgv:
    """The encoder of an input the ingest stage owns reads the ingest's MPEG-TS pipe: the
    command's input options went to the input's reader (hlsd.ingest.inputs), and it
    starts on the pipe without a long probe."""
    try:
        head, tail = split_input(encoder.argv)
    except ValueError:
        return encoder
    if head[-1] != "pipe:0":
        return encoder
    kept, _moved = split_input_options(head[1:-2])
    argv = [head[0], *kept, *ENCODER_FEED_OPTIONS, "-i", "pipe:0", *tail]
    return EncoderArgv(argv, (*encoder.added, *ENCODER_FEED_OPTIONS), reads_stdin=True)


def keyframe_grid(segment_length: float, cuts: tuple[float, ...] = ()) -> list[str]:
    """Keyframes where t crosses a multiple of L. Unlike n_forced*L this stays on the
    grid when timestamps do not start at zero (-copyts, a rung rejoining a live source).
    And where t crosses each of `cuts` (ad splice points: the segmenter cuts there too)."""
    length = f"{segment_length:g}"
    extra = "".join(f"+gte(t+0.001,{t:.3f})*lt(prev_forced_t+0.001,{t:.3f})" for t in cuts)
    return ["-force_key_frames",
            f"expr:if(isnan(prev_forced_t),1,gt(floor((t+0.001)/{length}),"
            f"floor((prev_forced_t+0.001)/{length})){extra})"]


def shared_encoder_argv(rungs: list[EncoderArgv], write_fds: list[int]) -> list[str]:
    """One ffmpeg that decodes once and encodes every rung, rung i to inherited `pipe:fd_i`.

    `rungs` are the per-rung argvs (inputs identical, checked at config load)."""
    head, _ = split_input(rungs[0].argv)
    argv = list(head)
    for rung, fd in zip(rungs, write_fds, strict=True):
        _, tail = split_input(rung.argv)
        argv += [*tail[:-1], f"pipe:{fd}"]
    return argv


def mpegts_zero(argv: list[str]) -> int:
    """The MPEG-TS timestamp ffmpeg's mpegts muxer gives output time 0 in `argv`'s output:
    it delays timestamps by twice -muxdelay, unless -mpegts_copyts 1 keeps them."""
    options = dict(itertools.pairwise(argv))
    if options.get("-mpegts_copyts") == "1":
        return 0
    try:
        delay = float(options.get("-muxdelay", DEFAULT_MUXDELAY))
    except ValueError:
        delay = DEFAULT_MUXDELAY
    return round(2 * delay * TICKS)
