"""`backup_inputs` and `input_loss`: what hlsd does when the input goes away (hlsd.ingest)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from hlsd.config.checker import Checker, show
from hlsd.config.location import is_file
from hlsd.config.model import InputLossSettings, yaml_keys
from hlsd.config.secret import redact_text
from hlsd.config.transfer import present

LOSS_KEYS = yaml_keys(InputLossSettings)


def parse_backups(raw: Mapping[str, Any], input_location: str | None,
                  check: Checker) -> tuple[str, ...]:
    value = raw.get("backup_inputs")
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        check.problem("backup_inputs", f"found {show(value)}",
                      "a list of inputs (URLs), e.g. [\"udp://239.1.1.1:5000\"]")
        return ()
    for i, url in enumerate(value):
        if url == "-":
            check.problem(f"backup_inputs[{i}]", "stdin ('-') cannot be a backup",
                          "a URL or device that hlsd opens itself")
        elif url == input_location or url in value[:i]:
            check.problem(f"backup_inputs[{i}]", f"{show(redact_text(url))} is listed already",
                          "each input once, input_location not among the backups")
    return tuple(value)


def parse_input_loss(raw: Mapping[str, Any], rel: Callable[[str | None], Path | None],
                     check: Checker) -> InputLossSettings | None:
    section = check.section(raw.get("input_loss"), "input_loss", LOSS_KEYS)
    if section is None:
        return None
    after = check.number(section, "after", "input_loss", minimum=0.2, maximum=60)
    slate = rel(check.string(section, "slate", "input_loss"))
    if slate is not None and not is_file(slate):
        check.problem("input_loss.slate", f"{slate} is not a file",
                      "a still image (PNG, JPEG) or a video file, or no slate for a "
                      "generated card")
    return InputLossSettings(**present(after=after, slate=slate))


def continuity_problems(backups: tuple[str, ...], loss: InputLossSettings | None,
                        input_location: str | None, live: bool, reads_input: bool,
                        check: Checker) -> None:
    """Continuity is about a live input that hlsd opens itself."""
    if not backups and loss is None:
        return
    key = "backup_inputs" if backups else "input_loss"
    if not live:
        check.problem(key, "applies to live inputs; this input is finite (a file)",
                      "live: true, or no " + key)
    elif input_location in (None, "", "-"):
        check.problem(key, "needs an input_location that hlsd opens itself (not stdin)",
                      "a URL or device in input_location")
    elif not reads_input:
        check.problem(key, "no encoding profile reads the input (%s in ffmpeg_command)",
                      "ffmpeg_command with -i %s")
