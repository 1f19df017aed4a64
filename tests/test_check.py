"""`hlsd check` prints the effective settings, the new optional keys included."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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



CMD = "ffmpeg -i %s -c:v libx264 -f mpegts -"


def one_rung(tmp_path: Path, **settings: Any) -> Path:
    return write_config(tmp_path / "c.yaml", **{
        "temp_dir": str(tmp_path / "w"), "encoding_profile": "ep", "transfer_profile": "www",
        "ep": {"ffmpeg_command": CMD},
        "www": {"transfer_type": "copy", "directory": str(tmp_path / "www")}, **settings})


def checked(config: Path, capsys: pytest.CaptureFixture[str]) -> tuple[dict[str, Any], str]:
    assert main(["check", str(config)]) == 0
    out = capsys.readouterr()
    return yaml.safe_load(out.out), out.err


@pytest.mark.parametrize("loss", [None, {"after": 1.5}])
def test_check_says_how_a_listener_waits(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch,
                                         loss: dict[str, float] | None) -> None:
    """1. an SRT listener input (its passphrase from the environment), with and without
       input_loss
    2. `hlsd check` says it is a listener that waits for a publisher, and what viewers get
       meanwhile, right after input_location"""
    monkeypatch.setenv("HLSD_TEST_SRT_KEY", "0123456789abc")
    url = "srt://0.0.0.0:9000?mode=listener&passphrase=${HLSD_TEST_SRT_KEY}"
    settings = {"input_location": url} | ({"input_loss": loss} if loss else {})
    out, err = checked(one_rung(tmp_path, **settings), capsys)
    summary = out["input"]
    assert summary["kind"] == "listener" and summary["listener"] is True and summary["live"]
    assert summary["location"] == "srt://0.0.0.0:9000?mode=listener&passphrase=***"
    assert summary["how"].startswith("waits for a publisher to connect")
    if loss:
        assert "with input_loss the slate is shown meanwhile (after 1.5 s" in summary["how"]
    else:
        assert "without input_loss nothing is published meanwhile" in summary["how"]
    assert list(out).index("input") == list(out).index("input_location") + 1
    assert out["input_readers"]["primary"]["listener"] is True
    assert "0123456789abc" not in str(out) + err


@pytest.mark.parametrize(("location", "extra", "kind", "how"), [
    ("FILM", {}, "file", "finite: published to its end"),
    ("FILM", {"live": True}, "file", "read as a live input (live: true)"),
    ("udp://239.1.1.1:5000", {}, "pull", "opened and kept open by a reader"),
    ("-", {}, "stdin", "read from hlsd's standard input"),
])
def test_check_says_what_other_inputs_are(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          location: str, extra: dict[str, Any], kind: str,
                                          how: str) -> None:
    film = tmp_path / "film.ts"
    film.write_bytes(b"")
    location = str(film) if location == "FILM" else location
    summary = checked(one_rung(tmp_path, input_location=location, **extra), capsys)[0]["input"]
    assert (summary["kind"], summary["listener"]) == (kind, False)
    assert summary["how"].startswith(how)


def test_check_says_a_backup_goes_on_air_meanwhile(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = one_rung(tmp_path, input_location="udp://239.1.1.1:5000",
                      backup_inputs=["udp://239.1.1.2:5000"], input_loss={"after": 2})
    how = checked(config, capsys)[0]["input"]["how"]
    assert how.endswith("a backup input goes on air meanwhile; when every input is lost, "
                        "the slate is shown meanwhile (after 2 s without media)")


def test_check_commands_with_their_own_input(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    config = one_rung(tmp_path, input_location="lavfi", live=True,
                      ep={"ffmpeg_command": "ffmpeg -f lavfi -i testsrc2 -c:v libx264 "
                                            "-f mpegts -"})
    summary = checked(config, capsys)[0]["input"]
    assert summary["kind"] == "none" and "carry their own input" in summary["how"]


@pytest.mark.parametrize("command", ["check", "run"])
def test_a_missing_input_file_stops_check_and_run(tmp_path: Path, command: str,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """1. input_location names a film that is not there (etc/file.yaml on a fresh machine)
    2. `hlsd check` and `hlsd run` exit 2 with one line naming it; nothing is started"""
    config = one_rung(tmp_path, input_location="/x/film.mp4")
    assert main([command, str(config)]) == 2
    err = capsys.readouterr().err
    assert ("  input_location: /x/film.mp4 does not exist; allowed: an existing file, a URL, "
            "a device or '-'\n") in err
    assert not (tmp_path / "w").exists()


def test_check_warns_about_an_sftp_destination_that_cannot_work(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """1. an SFTP destination, no key, no password, no agent, no ~/.ssh at all
    2. `hlsd check` exits 0 (it may work once keys are installed) with a warning naming
       each thing missing"""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    config = one_rung(tmp_path, input_location="-", transfer_profile="web",
                      web={"transfer_type": "sftp", "remote_host": "www.example.com",
                           "user_name": "hlsd"})
    _, err = checked(config, capsys)
    warnings = [line for line in err.splitlines() if line.startswith("warning: web: ")]
    assert len(warnings) == 2
    assert "no password, no key_file, no key in" in warnings[0]
    assert f"{tmp_path}/.ssh/known_hosts does not exist" in warnings[1]


def test_check_does_not_warn_about_secrets_from_the_environment(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HLSD_TEST_FTP_PW", "hunter2")
    config = one_rung(tmp_path, input_location="-", transfer_profile="up",
                      up={"transfer_type": "ftp", "remote_host": "h", "user_name": "u",
                          "password": "${HLSD_TEST_FTP_PW}"})
    config.chmod(0o644)
    assert "readable by every user" not in checked(config, capsys)[1]
    config.write_text(config.read_text().replace("${HLSD_TEST_FTP_PW}", "hunter2"))
    err = checked(config, capsys)[1]
    assert "holds secrets (up.password) but is readable by every user" in err
    assert "hunter2" not in err


def test_check_warns_when_the_admin_routes_face_the_viewers(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """1. the origin on every interface, no admin listener: a warning, exit 0
    2. with `admin_port` set: no warning, and the effective settings show the admin
       listener on loopback (the default address)"""
    config = one_rung(tmp_path, input_location="-", http={"listen": "0.0.0.0"})
    settings, err = checked(config, capsys)
    assert "warning: http.listen: '0.0.0.0' is beyond loopback" in err
    assert settings["http"]["admin_port"] is None
    config = one_rung(tmp_path, input_location="-",
                      http={"listen": "0.0.0.0", "admin_port": 9180})
    settings, err = checked(config, capsys)
    assert "warning" not in err
    assert (settings["http"]["admin_listen"], settings["http"]["admin_port"]) == (
        "127.0.0.1", 9180)
