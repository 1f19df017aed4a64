"""Warnings and hints that make a config that loads work on the first try: a world-readable
file only when it holds secrets as written (not ${VAR}), an SFTP/SCP destination that
lacks a key or a host key, and examples of the right kind in problems."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from hlsd import config as cfg
from hlsd.config.reader import written_secret
from tests.config.test_loader import base, problems

# -- secrets: only what the file itself holds -------------------------------------------------


@pytest.mark.parametrize(("path", "value", "written"), [
    ("up.password", "p4ss", True),
    ("up.password", 12345, True),
    ("up.password", "${FTP_PASSWORD}", False),
    ("up.password", " ${A}${B} ", False),
    ("up.password", "pre-${FTP_PASSWORD}", True),  # "pre-" is part of the secret
    ("s3.aws_api_secret", "${AWS_SECRET}", False),
    ("input_location", "srt://0.0.0.0:9000?mode=listener&passphrase=change-me-10", True),
    ("input_location", "srt://0.0.0.0:9000?mode=listener&passphrase=${SRT_KEY}", False),
    ("input_location", "rtmp://0.0.0.0:1935/live/cam1", True),  # a stream key
    ("input_location", "rtmp://0.0.0.0:1935/live/${RTMP_KEY}", False),
    ("input_location", "rtmp://[::]/live/cam1", True),
    ("input_location", "rtmp://127.0.0.1/live/cam", False),  # pulled: the stream's name
    ("backup_inputs[0]", "rtmp://u:${PW}@h/app", False),
    ("backup_inputs[0]", "rtmp://u:pw@h/app", True),
    ("input_location", "udp://239.1.1.1:5000", False),
    ("up.remote_host", "ftp.example.com", False),
    ("up.port", 21, False),
])
def test_what_counts_as_a_secret_written_in_the_file(path: str, value: Any,
                                                     written: bool) -> None:
    assert written_secret(path, value) is written


def world_readable(tmp_path: Path, raw: dict[str, Any]) -> cfg.Config:
    path = tmp_path / "hlsd.yaml"
    path.write_text(yaml.safe_dump(raw))
    path.chmod(0o644)
    return cfg.load(path)


def readable_warnings(config: cfg.Config) -> list[str]:
    return [w for w in config.warnings if "readable by every user" in w]


def test_secrets_from_the_environment_get_no_warning(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The issue's case: a file holding only ${VAR} references was warned about."""
    for var in ("FTP_PASSWORD", "AWS_API_KEY", "AWS_API_SECRET", "SRT_KEY"):
        monkeypatch.setenv(var, f"value-of-{var}")
    raw = base(transfer_profile=["up", "s3"],
               input_location="srt://0.0.0.0:9000?mode=listener&passphrase=${SRT_KEY}")
    raw["up"] = {"transfer_type": "ftp", "remote_host": "h", "user_name": "u",
                 "password": "${FTP_PASSWORD}"}
    raw["s3"] = {"transfer_type": "s3", "bucket_name": "b",
                 "aws_api_key": "${AWS_API_KEY}", "aws_api_secret": "${AWS_API_SECRET}"}
    config = world_readable(tmp_path, raw)
    assert config.written_secrets == () and readable_warnings(config) == []


def test_secrets_written_in_the_file_are_named(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_API_KEY", "k")
    raw = base(transfer_profile=["up", "s3"],
               input_location="srt://0.0.0.0:9000?mode=listener&passphrase=literal-10")
    raw["up"] = {"transfer_type": "ftp", "remote_host": "h", "user_name": "u",
                 "password": "p4ss"}
    raw["s3"] = {"transfer_type": "s3", "bucket_name": "b",
                 "aws_api_key": "${AWS_API_KEY}", "aws_api_secret": "s3cr3t"}
    (warning,) = readable_warnings(world_readable(tmp_path, raw))
    shown = warning.split("holds secrets (", 1)[1].split(")", 1)[0]
    assert sorted(shown.split(", ")) == ["input_location", "s3.aws_api_secret", "up.password"]
    assert "mode -rw-r--r--" in warning and "chmod o-r" in warning and "${VAR}" in warning
    assert "p4ss" not in warning and "s3cr3t" not in warning and "literal-10" not in warning


def test_a_file_only_its_owner_reads_gets_no_warning(tmp_path: Path) -> None:
    raw = base(transfer_profile="up")
    raw["up"] = {"transfer_type": "ftp", "remote_host": "h", "user_name": "u",
                 "password": "p4ss"}
    path = tmp_path / "hlsd.yaml"
    path.write_text(yaml.safe_dump(raw))
    path.chmod(0o600)
    config = cfg.load(path)
    assert config.written_secrets == ("up.password",) and readable_warnings(config) == []


# -- SFTP / SCP: what login and host key verification need -----------------------------------


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty home for the user hlsd runs as: no ~/.ssh, no agent."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    return home


def sftp(**keys: Any) -> dict[str, Any]:
    raw = base(transfer_profile="www")
    raw["www"] = {"transfer_type": "sftp", "remote_host": "web.example.com",
                  "user_name": "hlsd", **keys}
    return raw


def warnings_of(raw: dict[str, Any]) -> dict[str, str]:
    return dict(w.split(": ", 1) for w in cfg.parse(raw).warnings)


def test_no_key_no_password_no_agent_and_no_known_hosts(home: Path) -> None:
    """The issue's case: etc/sftp.yaml passed with no key and no known_hosts."""
    warnings = cfg.parse(sftp()).warnings
    assert len(warnings) == 2 and all(w.startswith("www: ") for w in warnings)
    assert any(f"no password, no key_file, no key in {home / '.ssh'}" in w
               and "no ssh-agent (SSH_AUTH_SOCK)" in w for w in warnings)
    assert any(f"{home / '.ssh' / 'known_hosts'} does not exist" in w
               and "no host_key is pinned" in w and "ssh-keyscan" in w for w in warnings)


def test_a_default_key_an_agent_or_a_password_is_enough_to_log_in(
        home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def login_warned(raw: dict[str, Any]) -> bool:
        return any("no password, no key_file" in w for w in cfg.parse(raw).warnings)

    monkeypatch.setenv("SFTP_PW", "pw")
    assert not login_warned(sftp(password="${SFTP_PW}"))
    monkeypatch.setenv("SSH_AUTH_SOCK", "/run/user/1000/ssh-agent.sock")
    assert not login_warned(sftp())
    monkeypatch.delenv("SSH_AUTH_SOCK")
    assert login_warned(sftp())
    (home / ".ssh").mkdir()
    (home / ".ssh" / "id_ed25519").write_text("key")
    assert not login_warned(sftp())


def test_a_key_file_that_is_not_there(home: Path, tmp_path: Path) -> None:
    found = warnings_of(sftp(key_file=str(tmp_path / "id_hlsd"), host_key=None,
                             insecure_skip_host_key_check=True))
    assert found["www.key_file"] == (f"{tmp_path / 'id_hlsd'} does not exist or cannot be "
                                     "read; login will fail")


def test_a_named_known_hosts_that_is_not_there(home: Path, tmp_path: Path) -> None:
    (tmp_path / "id").write_text("key")
    found = warnings_of(sftp(key_file=str(tmp_path / "id"),
                             known_hosts=str(tmp_path / "known_hosts")))
    assert set(found) == {"www.known_hosts"}
    assert found["www.known_hosts"].startswith(f"{tmp_path / 'known_hosts'} does not exist")


def test_everything_in_place_no_warning(home: Path) -> None:
    (home / ".ssh").mkdir()
    (home / ".ssh" / "id_rsa").write_text("key")
    (home / ".ssh" / "known_hosts").write_text("web.example.com ssh-ed25519 AAAA\n")
    assert cfg.parse(sftp()).warnings == ()


def test_a_pinned_host_key_or_no_verification_needs_no_known_hosts(home: Path) -> None:
    (home / ".ssh").mkdir()
    (home / ".ssh" / "id_rsa").write_text("key")
    insecure = cfg.parse(sftp(insecure_skip_host_key_check=True)).warnings
    assert [w for w in insecure if "known_hosts" in w] == []
    assert any("verification is OFF" in w for w in insecure)


def test_a_key_destination_is_checked_once(home: Path) -> None:
    raw = sftp()
    raw["encryption"] = {"key_transfer_profile": "www", "key_url_prefix": "https://k/"}
    warnings = [w for w in cfg.parse(raw).warnings if w.startswith("www:")]
    assert len(warnings) == 2  # the same two as for a segment destination, not four


# -- hints name a profile of the kind asked for ------------------------------------------------


def test_a_missing_transfer_profile_suggests_a_transfer_name() -> None:
    """The issue's case: it suggested "e.g. ep_720p", an encoding profile's name."""
    raw = base()
    del raw["transfer_profile"], raw["local"]
    (p,) = problems(raw)
    assert p.path == "transfer_profile" and p.what == "is missing"
    assert p.allowed == ("the name of a transfer profile section (one with transfer_type), "
                         "e.g. www or [www, backup]")
    assert "ep_" not in p.allowed


def test_the_files_own_transfer_sections_are_the_example() -> None:
    raw = base()
    del raw["transfer_profile"]
    (p,) = problems(raw)
    assert p.allowed.endswith("e.g. local or [local, www]")


def test_a_missing_encoding_profile_suggests_an_encoding_name() -> None:
    raw = base()
    del raw["encoding_profile"], raw["ep_720p"]
    (p,) = problems(raw)
    assert p.path == "encoding_profile"
    assert p.allowed == ("the name of an encoding profile section (one with ffmpeg_command), "
                         "e.g. ep_720p or [ep_720p, ep_360p]")


def test_a_key_transfer_profile_hint_is_a_transfer_name() -> None:
    (p,) = problems(base(encryption={"key_url_prefix": "https://k/"}))
    assert p.path == "encryption.key_transfer_profile" and "e.g. local" in p.allowed


def test_a_name_that_is_no_section_says_which_kind() -> None:
    (p,) = problems(base(transfer_profile="lcoal"))
    assert "did you mean 'local'" in p.what
    assert p.allowed == "a transfer profile: a top-level section with transfer_type, e.g. local"
    (p,) = problems(base(encoding_profile="ep_72O"))
    assert p.allowed.startswith("an encoding profile: a top-level section with ffmpeg_command")


def test_a_bad_transfer_section_name_gets_a_transfer_example() -> None:
    raw = base(transfer_profile="w w")
    raw["w w"] = {"transfer_type": "copy", "directory": "/tmp/x"}
    assert [p.allowed for p in problems(raw) if p.path == "w w"] == ["e.g. www"]
