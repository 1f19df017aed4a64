"""The unit files parse, carry the directives the service relies on, and logrotate works."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from hlsd.service import logs

ROOT = Path(__file__).resolve().parents[2]
UNITS = ["hlsd.service", "hlsd@.service"]
INSTALLED_HLSD = "/opt/hlsd/bin/hlsd"  # scripts/install-service's default --prefix


def directives(text: str) -> dict[str, list[str]]:
    """{"Section.Key": [values in order]} of a unit file (comments and blanks skipped)."""
    out: dict[str, list[str]] = {}
    section = ""
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        out.setdefault(f"{section}.{key.strip()}", []).append(value.strip())
    return out


def systemd_version() -> int:
    out = subprocess.run(["systemd-analyze", "--version"], capture_output=True, text=True,
                         check=True).stdout
    return int(re.search(r"systemd (\d+)", out).group(1))  # type: ignore[union-attr]


@pytest.mark.parametrize("unit", UNITS)
def test_unit_has_the_required_directives(unit: str) -> None:
    d = directives((ROOT / "systemd" / unit).read_text())
    one = {k: v[-1] for k, v in d.items()}
    # Type=notify-reload needs systemd 253; Debian 12 has 252, so reload is a SIGHUP.
    assert one["Service.Type"] == "notify"
    assert one["Service.ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert "Service.ReloadSignal" not in one  # an unknown key before 253
    assert one["Service.NotifyAccess"] == "main"
    assert one["Service.Restart"] == "on-failure"
    assert one["Service.RestartPreventExitStatus"] == "2"  # invalid config: no restart loop
    assert int(one["Service.WatchdogSec"]) > 0
    assert one["Service.KillMode"] == "mixed"
    assert one["Service.User"] == "hlsd" and one["Service.Group"] == "hlsd"
    assert one["Service.ProtectSystem"] == "strict"
    assert one["Service.ReadWritePaths"]
    # One state directory per channel of the template: its temp_dir, closed to others.
    assert one["Service.StateDirectory"] == ("hlsd/%i" if "@" in unit else "hlsd")
    assert one["Service.StateDirectoryMode"] == "0750"
    assert one["Service.LogsDirectory"] == "hlsd"
    for key in ("NoNewPrivileges", "PrivateTmp", "ProtectHome", "PrivateDevices",
                "ProtectKernelTunables", "ProtectKernelModules", "ProtectControlGroups",
                "RestrictSUIDSGID", "LockPersonality", "RestrictRealtime"):
        assert one[f"Service.{key}"] == "yes", key
    assert one["Service.CapabilityBoundingSet"] == ""
    assert one["Service.AmbientCapabilities"] == ""
    assert "@system-service" in one["Service.SystemCallFilter"]
    assert one["Install.WantedBy"] == "multi-user.target"
    config = "/etc/hlsd/%i.yaml" if "@" in unit else "/etc/hlsd/hlsd.yaml"
    # scripts/install-service points exactly this at its --prefix
    assert one["Service.ExecStart"] == f"{INSTALLED_HLSD} run {config}"


def test_service_sample_writes_only_where_the_template_unit_allows() -> None:
    """etc/service.yaml (installed as /etc/hlsd/example.yaml.sample) is channel cam1 of
    hlsd@: 1. its temp_dir is the unit's StateDirectory for cam1, 2. its copy destination
    is within the unit's ReadWritePaths for cam1, 3. no path under /tmp (the unit's own,
    PrivateTmp: a web server never sees it)."""
    unit = {k: v[-1] for k, v in
            directives((ROOT / "systemd" / "hlsd@.service").read_text()).items()}
    raw = yaml.safe_load((ROOT / "etc" / "service.yaml").read_text())
    assert raw["temp_dir"] == "/var/lib/" + unit["Service.StateDirectory"].replace("%i", "cam1")
    allowed = [p.removeprefix("-").replace("%i", "cam1")
               for p in unit["Service.ReadWritePaths"].split()]
    copies = [v["directory"] for v in raw.values()
              if isinstance(v, dict) and v.get("transfer_type") == "copy"]
    assert copies
    for directory in copies:
        assert any(directory == a or directory.startswith(a + "/") for a in allowed), directory
    assert not [v for v in (raw["temp_dir"], *copies) if v.startswith("/tmp")]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                    reason="systemd-analyze is not installed (apt-get install systemd)")
@pytest.mark.parametrize("unit", UNITS)
def test_systemd_analyze_verify(unit: str, tmp_path: Path) -> None:
    """1. copy the unit, ExecStart pointed at an existing binary (hlsd is not installed
    in /opt/hlsd here; tests/service/test_install.py verifies the installed units),
    2. verify it (a template as an instance), 3. no complaints."""
    text = (ROOT / "systemd" / unit).read_text()
    text = text.replace(INSTALLED_HLSD, sys.executable)
    name = unit.replace("@.", "@test.")
    (tmp_path / name).write_text(text)
    done = subprocess.run(["systemd-analyze", "verify", f"./{name}"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    complaints = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert complaints == []


@pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                    reason="systemd-analyze is not installed (apt-get install systemd)")
@pytest.mark.parametrize("unit", UNITS)
def test_notify_reload_drop_in_from_the_comment(unit: str, tmp_path: Path) -> None:
    """The drop-in the unit's comment offers for systemd >= 253 is the documented switch:
    1. it is in the comment, 2. on such a systemd, the unit with it verifies cleanly."""
    text = (ROOT / "systemd" / unit).read_text()
    drop_in = "#   [Service]\n#   Type=notify-reload\n#   ExecReload=\n"
    assert drop_in in text
    if systemd_version() < 253:
        pytest.skip(f"systemd {systemd_version()} < 253 has no Type=notify-reload")
    name = unit.replace("@.", "@test.")
    (tmp_path / name).write_text(text.replace(INSTALLED_HLSD, sys.executable))
    (tmp_path / f"{name}.d").mkdir()
    (tmp_path / f"{name}.d" / "reload.conf").write_text(drop_in.replace("#   ", ""))
    done = subprocess.run(["systemd-analyze", "verify", f"./{name}"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0 and not (done.stdout + done.stderr).strip(), done.stderr


@pytest.mark.skipif(shutil.which("logrotate") is None, reason="logrotate is not installed")
def test_logrotate_rotates_and_hlsd_reopens_its_log(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """1. hlsd logs to a FILE, 2. logrotate (our config, paths and owner made local)
    rotates it, 3. hlsd notices the new inode and writes to the fresh file."""
    import getpass
    import grp
    import os

    import structlog

    log_dir = tmp_path / "log"
    log_file = log_dir / "hlsd.log"
    conf = (ROOT / "etc" / "logrotate.d" / "hlsd").read_text()
    user = getpass.getuser()
    group = grp.getgrgid(os.getgid()).gr_name
    conf = (conf.replace("/var/log/hlsd", str(log_dir))
            .replace("hlsd hlsd", f"{user} {group}"))
    (tmp_path / "logrotate.conf").write_text(conf)
    monkeypatch.setattr(logs.ReopeningFile, "CHECK_EVERY", 0.0)  # look on every write
    logs.configure("INFO", "FILE", log_file)
    try:
        structlog.get_logger().info("before rotation")
        done = subprocess.run(
            ["logrotate", "--force", "--state", str(tmp_path / "state"),
             str(tmp_path / "logrotate.conf")],
            capture_output=True, text=True, timeout=30, check=False)
        assert done.returncode == 0, done.stderr
        rotated = [p for p in log_dir.iterdir() if p != log_file]
        assert len(rotated) == 1 and "before rotation" in rotated[0].read_text()
        structlog.get_logger().info("after rotation")
        assert "after rotation" in log_file.read_text()
        assert "after rotation" not in rotated[0].read_text()
    finally:
        # structlog's defaults, not an INFO filter: later tests capture DEBUG lines
        structlog.reset_defaults()
