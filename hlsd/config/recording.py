"""Time-shift and recording: `dvr_window` (seconds kept behind the live edge) and the
`recording:` section (the destination every segment is kept at for good, and the period
of its VOD playlists)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from hlsd.config.checker import Checker
from hlsd.config.model import RecordingSettings, TransferProfile, yaml_keys
from hlsd.config.sections import profiles, rebase
from hlsd.config.transfer import access_warnings, parse_transfer, present

RECORDING_KEYS = yaml_keys(RecordingSettings)
MAX_DVR_WINDOW = 7 * 24 * 3600  # a week of segments in memory is already ~100 MB a rung
MIN_PERIOD = 10.0


def parse_dvr_window(raw: Mapping[str, Any], live: bool, check: Checker) -> float | None:
    window = check.number(raw, "dvr_window", "", minimum=0, maximum=MAX_DVR_WINDOW)
    if window and not live:
        check.warn("dvr_window", "a file input publishes every segment in a VOD playlist "
                   "anyway; the window applies to live inputs only")
    return window


def parse_recording(raw: Mapping[str, Any], sections: set[str], segment_length: float,
                    segment_destinations: list[str], rel: Callable[[str | None], Path | None],
                    check: Checker) -> RecordingSettings | None:
    """`raw` is the whole document; problems and warnings go to `check`."""
    section = check.section(raw.get("recording"), "recording", RECORDING_KEYS,
                            shorthand=False)
    if section is None:
        return None
    period = check.number(section, "period", "recording", minimum=MIN_PERIOD,
                          maximum=86400)
    if period is not None and period < 2 * segment_length:
        check.problem("recording.period", f"{period:g} s holds fewer than two segments of "
                      f"{segment_length:g} s", f"at least {2 * segment_length:g}")
    key = "recording.transfer_profile"
    name = section.get("transfer_profile")
    if not isinstance(name, str):
        check.problem(key, "is missing" if name is None else "expected one profile name",
                      "the name of a transfer profile section (one with transfer_type)")
        return None
    if name in segment_destinations:
        check.problem(key, f"{name} is also a live destination (transfer_profile), where "
                      "segments are deleted as they leave the window",
                      "a transfer profile of its own (another directory, bucket or prefix)")
        return None
    found: list[TransferProfile] = profiles(raw, sections, [name], key, "transfer_type",
                                            parse_transfer, check)
    if not found:
        return None
    access_warnings(found, check)
    if raw.get("encryption"):
        check.warn(key, "the recording names the stream's keys where they are published "
                   "(encryption.key_transfer_profile) but does not keep them: keep that "
                   "destination's keys as long as the recordings")
    return RecordingSettings(rebase(found[0], rel), **present(period=period))
