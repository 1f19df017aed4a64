"""The `timeline:` key: `local` (numbers continue from the state file) or `locked`
(boundaries and numbers follow the input's own clock, so that redundant hosts fed the same
source publish the same segments; hlsd.encode.locked makes the encoders keep that clock)."""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Mapping
from typing import Any, Literal, cast

from hlsd.config.checker import Checker
from hlsd.config.commands import retimes

Timeline = Literal["local", "locked"]


def parse_timeline(raw: Mapping[str, Any], live: bool, source_command: str | None,
                   commands: Mapping[str, str], check: Checker) -> Timeline | None:
    timeline = check.choice(raw, "timeline", "", ("local", "locked"))
    encryption = raw.get("encryption")
    if (timeline != "locked" and live and isinstance(encryption, Mapping)
            and encryption.get("key_seed") is not None):
        check.warn("encryption.key_seed", "without timeline: locked each host numbers its "
                   "segments from its own state, so keys derived from the numbers match "
                   "another host's only by chance; set timeline: locked on both")
    if timeline != "locked":
        if live and (source_command is not None or any("%s" in c for c in commands.values())):
            splice_cut_warnings(commands, check)
        return cast(Timeline | None, timeline)
    if not live:
        check.problem("timeline", "locked needs a live input: a file is numbered from 0 "
                      "on every host anyway", "local, or a live input_location")
    elif source_command is None and not any("%s" in c for c in commands.values()):
        check.problem("timeline", "locked needs an input hlsd opens (a command reading "
                      "input_location with %s, or source_command): only then can it keep "
                      "the input's timestamps", "local, or commands reading %s")
    for name, command in commands.items():
        for problem in locked_command_problems(command):
            check.problem(f"{name}.ffmpeg_command", problem,
                          "a command whose video filters are in -vf / -filter:v")
    return "locked"


def locked_command_problems(command: str) -> Iterable[str]:
    """What stops hlsd from putting an encoder on the input's clock."""
    try:
        argv = shlex.split(command)
    except ValueError:
        return  # reported as a command problem already
    if "-filter_complex" in argv or "-lavfi" in argv:
        yield ("has -filter_complex: timeline: locked adds its own selection of the first "
               "frame on the grid to the video filters, and can only do so to -vf")


def splice_cut_warnings(commands: Mapping[str, str], check: Checker) -> None:
    """A command that changes frame times: a live input's SCTE-35 splice frame, marked in
    its timestamps, cannot be keyed, so no rung gets exact cuts (README: Ad markers)."""
    for name, command in commands.items():
        try:
            argv = shlex.split(command)
        except ValueError:
            continue  # reported as a command problem already
        found = None if "-vn" in argv else retimes(argv)
        if found is not None:
            check.warn(f"{name}.ffmpeg_command", f"`{found}` changes frame times: a SCTE-35 "
                       "splice point of the input cannot be an exact cut, and every rung's "
                       "break opens on the next segment boundary instead (timeline: local)")
