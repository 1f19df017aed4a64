"""`hlsd check` prints the effective settings, the new optional keys included."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from hlsd.cli import main
from tests.daemon_util import write_config


def test_check_shows_start_rung(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cmd = "ffmpeg -i %s -c:v libx264 -f mpegts -"
    config = write_config(
        tmp_path / "c.yaml", temp_dir=str(tmp_path / "w"), input_location="rtmp://h/l",
        encoding_profile=["hi", "lo"], start_rung="lo", transfer_profile="t",
        hi={"ffmpeg_command": cmd}, lo={"ffmpeg_command": cmd},
        t={"transfer_type": "copy", "directory": str(tmp_path / "www")})
    assert main(["check", str(config)]) == 0
    assert yaml.safe_load(capsys.readouterr().out)["start_rung"] == "lo"
