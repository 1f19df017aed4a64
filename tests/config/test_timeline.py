"""`timeline` (hlsd.config.timeline through hlsd.config.parse)."""

from __future__ import annotations

from pathlib import Path

from hlsd import config as cfg
from tests.config.test_loader import base, problems


def test_local_by_default_and_locked_on_a_live_input() -> None:
    assert cfg.parse(base()).timeline == "local"
    assert cfg.parse(base(timeline="locked")).timeline == "locked"


def test_unknown_value() -> None:
    (problem,) = problems(base(timeline="aligned"))
    assert problem.path == "timeline" and "local | locked" in problem.allowed


def test_locked_needs_a_live_input_hlsd_opens(tmp_path: Path) -> None:
    source = tmp_path / "film.ts"
    source.write_bytes(b"\x47" * 188)
    (finite,) = problems(base(timeline="locked", input_location=str(source)))
    assert finite.path == "timeline" and "live input" in finite.what
    own = {"ffmpeg_command": "ffmpeg -f lavfi -i testsrc2 -c:v libx264 -f mpegts -"}
    (lavfi,) = problems(base(timeline="locked", ep_720p=own))
    assert lavfi.path == "timeline" and "input hlsd opens" in lavfi.what


def test_locked_cannot_reach_into_filter_complex() -> None:
    command = ("ffmpeg -i %s -filter_complex [0:v]scale=640:360[v] -map [v] -c:v libx264 "
               "-f mpegts -")
    (problem,) = problems(base(timeline="locked", ep_720p={"ffmpeg_command": command}))
    assert problem.path == "ep_720p.ffmpeg_command" and "-filter_complex" in problem.what


def test_key_seed_without_a_locked_timeline_is_warned_about() -> None:
    encryption = {"key_seed": "0123456789abcdef0123", "key_transfer_profile": "keys"}
    keys = {"transfer_type": "copy", "directory": "/tmp/hlsd-test-keys"}
    local = cfg.parse(base(encryption=encryption, keys=keys))
    assert any(w.startswith("encryption.key_seed: without timeline: locked")
               for w in local.warnings), local.warnings
    locked = cfg.parse(base(encryption=encryption, keys=keys, timeline="locked"))
    assert not any(w.startswith("encryption.key_seed") for w in locked.warnings)


def test_a_live_command_that_retimes_frames_is_warned_about() -> None:
    """Such a command loses the mark of a SCTE-35 splice frame (no exact cuts)."""
    def warnings(command: str, **extra: object) -> list[str]:
        raw = base(ep_720p={"ffmpeg_command": command}, **extra)
        return [w for w in cfg.parse(raw).warnings if "splice point" in w]

    plain = "ffmpeg -i %s -vf scale=640:-2 -c:v libx264 -c:a aac -f mpegts -"
    assert warnings(plain) == []
    (warning,) = warnings("ffmpeg -i %s -vf yadif=1,scale=640:-2 -c:v libx264 -f mpegts -")
    assert warning.startswith("ep_720p.ffmpeg_command: `-vf yadif=1` changes frame times")
    (rate,) = warnings("ffmpeg -i %s -r 30 -c:v libx264 -f mpegts -")
    assert "`-r`" in rate
    assert warnings("ffmpeg -i %s -r 30 -c:v libx264 -f mpegts -", timeline="locked") == []
    assert warnings("ffmpeg -i %s -vn -af asetpts=N/SR/TB -c:a aac -f mpegts -") == []
