"""What an encoding profile's ffmpeg_command says, read as text (pure: nothing is run).

The loader checks commands with these; hlsd.encode builds the encoders' argv from them.
And one line ffmpeg itself prints: its input's start time (`start_ticks`).
"""

from __future__ import annotations

import itertools
import re
import shlex

__all__ = ["STDOUT_TARGETS", "command_problems", "retimes", "shared_problems", "split_input",
           "start_ticks"]

# ffmpeg's "  Duration: …, start: S, bitrate: …" line about an input: S, the input's start
# time, is what ffmpeg subtracts from its timestamps (without -copyts).
START_LINE = re.compile(r"^\s*Duration: .*, start: (-?\d+\.\d+)")

STDOUT_TARGETS = frozenset({"-", "pipe:", "pipe:1"})
MUXER_NAMES = {"mpegts": "MPEG-TS", "webvtt": "WebVTT"}


def command_problems(command: str, muxer: str = "mpegts") -> list[str]:
    """What makes a command unusable as an encoder writing `muxer` to stdout."""
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        return [f"cannot be split into arguments: {exc}"]
    if not argv:
        return ["is empty"]
    problems = []
    if "|" in argv or ";" in argv or "&&" in argv:
        problems.append("contains a shell operator; hlsd runs commands without a shell")
    if argv[-1] not in STDOUT_TARGETS:
        problems.append(f"last argument is {argv[-1]!r}, not '-' (stdout)")
    if muxer not in [b for a, b in itertools.pairwise(argv) if a == "-f"]:
        problems.append(f"does not select the {MUXER_NAMES.get(muxer, muxer)} muxer "
                        f"(-f {muxer})")
    return problems


def split_input(argv: list[str]) -> tuple[list[str], list[str]]:
    """(program + input options up to the last -i X, output options + output)."""
    last_i = max((i for i, a in enumerate(argv) if a == "-i"), default=-1)
    if last_i < 0 or last_i + 1 >= len(argv):
        raise ValueError("no -i input")
    return argv[:last_i + 2], argv[last_i + 2:]


TIMING_OPTIONS = ("-r", "-vsync", "-fps_mode", "-enc_time_base")
RETIMING_FILTERS = re.compile(
    r"(^|[,;\[\]])\s*(fps|framerate|setpts|minterpolate|telecine|tinterlace|framestep|"
    r"decimate|mpdecimate|(yadif|bwdif|w3fdif)=(1|mode=1|mode=send_field))\b")


def retimes(argv: list[str]) -> str | None:
    """The option or filter of an encoder's output side that changes frame times, if any:
    a live input's splice frame marked in its timestamps would not reach the encoder
    (hlsd.media.ptsmark)."""
    try:
        _, tail = split_input(argv)
    except ValueError:
        tail = argv
    for i, arg in enumerate(tail[:-1]):
        if arg in TIMING_OPTIONS or arg.startswith(tuple(o + ":" for o in TIMING_OPTIONS)):
            return arg
        if arg in ("-vf", "-filter_complex") or arg.startswith("-filter:v"):
            found = RETIMING_FILTERS.search(tail[i + 1])
            if found is not None:
                return f"{arg} {found.group(2)}"
    return None


def shared_problems(commands: dict[str, str]) -> list[str]:
    """Why these encoders cannot share one decoding ffmpeg (empty: they can)."""
    inputs = {}
    for name, command in commands.items():
        try:
            inputs[name] = split_input(shlex.split(command))[0]
        except ValueError:
            return [f"{name}: has no -i input"]
    first = next(iter(inputs.values()), [])
    return [f"{name}: its input options differ from the first profile's "
            f"({' '.join(part[1:])!r} vs {' '.join(first[1:])!r})"
            for name, part in inputs.items() if part != first]


def start_ticks(line: str) -> int | None:
    """The input's start time in 90 kHz ticks from ffmpeg's "Duration: …, start: S" line;
    None for any other line."""
    found = START_LINE.match(line)
    return None if found is None else round(float(found.group(1)) * 90_000)
