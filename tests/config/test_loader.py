"""Config validation: one message per problem, with the key path; secrets never echoed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from hlsd import config as cfg
from hlsd.config import ConfigError, Problem

CMD = "ffmpeg -i %s -c:v libx264 -c:a aac -f mpegts -"


def base(**extra: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "temp_dir": "/tmp/hlsd-test-work",
        "input_location": "rtmp://127.0.0.1/live/cam",
        "encoding_profile": "ep_720p",
        "transfer_profile": "local",
        "ep_720p": {"ffmpeg_command": CMD, "bandwidth": 3_300_000},
        "local": {"transfer_type": "copy", "directory": "/tmp/hlsd-test-www"},
    }
    raw.update(extra)
    return raw


def problems(raw: dict[str, Any]) -> list[Problem]:
    with pytest.raises(ConfigError) as info:
        cfg.parse(raw)
    return info.value.problems


def paths(raw: dict[str, Any]) -> list[str]:
    return [p.path for p in problems(raw)]


def test_minimal_config_gets_the_documented_defaults() -> None:
    c = cfg.parse(base())
    assert c.segment_prefix == "live" and c.index_prefix == "live"
    assert c.segment_length == 4.0 and c.index_segment_count == 6
    assert c.log_type == "STDOUT" and c.log_level == "INFO"
    assert c.segmenter_binary == "hlsd-segmenter"
    assert c.encoding_profiles == (cfg.EncodingProfile("ep_720p", CMD, 3_300_000),)
    assert c.transfer_profiles == (cfg.CopyProfile("local", Path("/tmp/hlsd-test-www")),)
    assert c.live  # a URL is live
    assert c.target_duration == 4


def test_profile_lists_and_single_names_both_work() -> None:
    raw = base(encoding_profile=["ep_720p", "ep_360p"],
               ep_360p={"ffmpeg_command": CMD})
    assert [p.name for p in cfg.parse(raw).encoding_profiles] == ["ep_720p", "ep_360p"]


def test_every_problem_is_reported_at_once_with_its_key_path() -> None:
    raw = base(segment_length="four", index_segment_count=-1, log_level="LOUD",
               temp_dir=None)
    raw["ep_720p"]["bandwidth"] = "lots"
    found = paths(raw)
    assert set(found) == {"segment_length", "index_segment_count", "log_level", "temp_dir",
                          "ep_720p.bandwidth"}


def test_unknown_keys_are_errors_with_a_suggestion() -> None:
    raw = base(segment_lenght=4)
    raw["local"]["directroy"] = "/x"
    found = {p.path: p.what for p in problems(raw)}
    assert "did you mean 'segment_length'" in found["segment_lenght"]
    assert "did you mean 'directory'" in found["local.directroy"]


def test_profile_named_but_missing() -> None:
    raw = base(encoding_profile=["ep_720p", "ep_72Op"])
    (p,) = problems(raw)
    assert p.path == "encoding_profile" and "ep_72Op" in p.what and "ep_720p" in p.what


def test_transfer_type_must_be_known() -> None:
    raw = base()
    raw["local"] = {"transfer_type": "rsync", "directory": "/x"}
    (p,) = problems(raw)
    assert p.path == "local.transfer_type" and "copy, ftp, scp, sftp, s3" in p.allowed


def test_encoder_must_write_mpegts_to_stdout_without_a_shell() -> None:
    raw = base()
    raw["ep_720p"]["ffmpeg_command"] = "ffmpeg -i %s -f mp4 out.mp4"
    assert len(problems(raw)) == 2
    raw["ep_720p"]["ffmpeg_command"] = "ffmpeg -i %s -f mpegts - | tee x"
    assert paths(raw) == ["ep_720p.ffmpeg_command"] * 2


def test_legacy_segmenter_pipe_tail_is_dropped_with_a_warning() -> None:
    raw = base()
    raw["ep_720p"]["ffmpeg_command"] = CMD + " | %s %s %s %s %s"
    c = cfg.parse(raw)
    assert c.encoding_profiles[0].ffmpeg_command == CMD
    assert any("segmenter pipe" in w for w in c.warnings)


def test_env_secrets_are_substituted_and_never_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HLSD_TEST_PW", "hunter2")
    raw = base(transfer_profile="up")
    raw["up"] = {"transfer_type": "ftp", "remote_host": "127.0.0.1", "user_name": "u",
                 "password": "${HLSD_TEST_PW}", "directory": "/live"}
    c = cfg.parse(raw)
    ftp = c.transfer_profiles[0]
    assert isinstance(ftp, cfg.FtpProfile)
    assert ftp.password.reveal() == "hunter2"
    assert "hunter2" not in repr(c) and "hunter2" not in str(ftp.password)


def test_unset_env_variable_is_a_problem_not_an_empty_password() -> None:
    raw = base(transfer_profile="up")
    raw["up"] = {"transfer_type": "ftp", "remote_host": "h", "user_name": "u",
                 "password": "${HLSD_SURELY_UNSET_VAR}"}
    (p,) = problems(raw)
    assert p.path == "up.password" and "HLSD_SURELY_UNSET_VAR" in p.what


def test_wrong_typed_secret_is_not_echoed() -> None:
    raw = base(transfer_profile="up")
    raw["up"] = {"transfer_type": "ftp", "remote_host": "h", "user_name": "u",
                 "password": ["s3cr3t-list"]}
    (p,) = problems(raw)
    assert "s3cr3t" not in str(p)


@pytest.mark.parametrize("prefix", ["../etc", "a/b", ".hidden", ""])
def test_prefixes_cannot_escape_their_directory(prefix: str) -> None:
    assert paths(base(segment_prefix=prefix)) == ["segment_prefix"]


def test_profile_names_are_safe_file_name_parts() -> None:
    raw = base(encoding_profile="../x")
    raw["../x"] = {"ffmpeg_command": CMD}
    assert "../x" in paths(raw)


def test_s3_key_prefix_cannot_climb_and_keys_come_in_pairs() -> None:
    raw = base(transfer_profile="s3")
    raw["s3"] = {"transfer_type": "s3", "bucket_name": "b", "key_prefix": "../x/",
                 "aws_api_key": "AKIA"}
    assert set(paths(raw)) == {"s3.key_prefix", "s3.aws_api_key"}


def test_ssh_insecure_flag_needs_to_be_explicit_and_warns() -> None:
    raw = base(transfer_profile="ssh")
    raw["ssh"] = {"transfer_type": "sftp", "remote_host": "h", "user_name": "u",
                  "insecure_skip_host_key_check": True}
    c = cfg.parse(raw)
    ssh = c.transfer_profiles[0]
    assert isinstance(ssh, cfg.SshProfile) and ssh.insecure_skip_host_key_check
    assert any("verification is OFF" in w for w in c.warnings)
    raw["ssh"]["insecure_skip_host_key_check"] = "yes"
    assert paths(raw) == ["ssh.insecure_skip_host_key_check"]


def test_finite_when_input_is_a_regular_file(tmp_path: Path) -> None:
    media = tmp_path / "film.ts"
    media.write_bytes(b"")
    assert not cfg.parse(base(input_location=str(media))).live
    assert cfg.parse(base(input_location=str(media), live=True)).live


def test_target_duration_cannot_undercut_segment_length() -> None:
    assert paths(base(segment_length=6, target_duration=4)) == ["target_duration"]
    assert cfg.parse(base(segment_length=2.5)).target_duration == 3


def test_log_file_required_for_file_logging() -> None:
    assert paths(base(log_type="FILE")) == ["log_file"]


def test_relative_paths_are_relative_to_the_config_file(tmp_path: Path) -> None:
    path = tmp_path / "hlsd.yaml"
    path.write_text("temp_dir: work\ninput_location: '-'\nencoding_profile: e\n"
                    "transfer_profile: t\n"
                    f"e: {{ffmpeg_command: '{CMD}'}}\n"
                    "t: {transfer_type: copy, directory: www}\n")
    c = cfg.load(path)
    assert c.temp_dir == tmp_path / "work"
    assert c.transfer_profiles[0].directory == tmp_path / "www"  # type: ignore[union-attr]


def test_relative_key_and_ca_files_are_relative_to_the_config_file(tmp_path: Path) -> None:
    """Under systemd the working directory is /: a relative key file must not mean /key."""
    path = tmp_path / "hlsd.yaml"
    path.write_text("temp_dir: /tmp/w\ninput_location: '-'\nencoding_profile: e\n"
                    "transfer_profile: [s, f]\n"
                    f"e: {{ffmpeg_command: '{CMD}'}}\n"
                    "s: {transfer_type: sftp, remote_host: h, user_name: u,\n"
                    "    key_file: keys/id, known_hosts: keys/known, host_key: null}\n"
                    "f: {transfer_type: ftp, remote_host: h, user_name: u, password: p,\n"
                    "    tls: true, tls_ca_file: ca.pem}\n")
    sftp, ftp = cfg.load(path).transfer_profiles
    assert isinstance(sftp, cfg.SshProfile) and isinstance(ftp, cfg.FtpProfile)
    assert (sftp.key_file, sftp.known_hosts) == (tmp_path / "keys/id", tmp_path / "keys/known")
    assert ftp.tls_ca_file == tmp_path / "ca.pem"


def test_ftp_ca_file_needs_tls() -> None:
    raw = base(transfer_profile="f", f={"transfer_type": "ftp", "remote_host": "h",
                                        "user_name": "u", "password": "p",
                                        "tls_ca_file": "/ca.pem"})
    assert paths(raw) == ["f.tls_ca_file"]


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("temp_dir: /x\nencoding_profile: [a,\n")
    with pytest.raises(ConfigError) as info:
        cfg.load(path)
    assert "line" in str(info.value)


def test_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        cfg.load(tmp_path / "missing.yaml")


def test_shipped_examples_validate(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("FTP_PASSWORD", "SFTP_PASSWORD", "AWS_API_KEY", "AWS_API_SECRET",
                "AWS_SECRET", "AWS_KEY"):
        monkeypatch.setenv(var, "x")
    examples = sorted(Path(__file__).parents[2].joinpath("etc").glob("*.yaml"))
    assert examples
    for example in examples:
        try:
            cfg.load(example)
        except ConfigError as exc:
            # etc/file.yaml names a film this machine does not have: that, and only that.
            assert [(p.path, p.what.endswith("does not exist")) for p in exc.problems] == [
                ("input_location", True)], (example, exc)


def test_pinned_host_key_is_checked_when_loading() -> None:
    """A pinned key that cannot be a key is a config problem, not a failure at connect."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    good = ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()

    def sftp(host_key: str) -> dict[str, Any]:
        return base(transfer_profile="s", s={"transfer_type": "sftp", "remote_host": "h",
                                             "user_name": "u", "host_key": host_key})

    for ok in (good, good + " me@host"):
        profile = cfg.parse(sftp(ok)).transfer_profiles[0]
        assert isinstance(profile, cfg.SshProfile) and profile.host_key == ok
    for bad in ("ssh-ed25519", "AAAA", good.replace("ssh-ed25519", "ssh-rsa"),
                good[:-8] + "!!!!!!!!", "SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8"):
        assert paths(sftp(bad)) == ["s.host_key"], bad


def test_ftp_active_mode_is_a_warning_not_an_error() -> None:
    raw = base(transfer_profile="f", f={"transfer_type": "ftp", "remote_host": "h",
                                        "user_name": "u", "password": "p", "passive": False})
    c = cfg.parse(raw)
    assert any(w.startswith("f.passive") and "passive mode is used" in w for w in c.warnings)


@pytest.mark.parametrize("first", ["hlsd.config", "hlsd.config.loader", "hlsd.config.transfer",
                                   "hlsd.config.checker", "hlsd.config.model"])
def test_config_modules_import_in_any_order(first: str) -> None:
    """hlsd.config.load is the entry point; the loader modules import the model, never
    the other way round at import time."""
    code = f"import {first}; from hlsd.config import load, parse, ConfigError; print('ok')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=False)
    assert out.stdout.strip() == "ok", out.stderr


def test_start_rung_must_be_a_listed_encoding_profile() -> None:
    raw = base(encoding_profile=["ep_720p", "ep_360p"], ep_360p={"ffmpeg_command": CMD})
    assert cfg.parse(raw).start_rung is None
    assert cfg.parse({**raw, "start_rung": "ep_360p"}).start_rung == "ep_360p"
    (p,) = problems({**raw, "start_rung": "ep_306p"})
    assert p.path == "start_rung" and "did you mean 'ep_360p'" in p.what
    assert "ep_720p, ep_360p" in p.allowed
    # a profile section that is not in encoding_profile is no rung
    (p,) = problems({**raw, "start_rung": "ep_1080p", "ep_1080p": {"ffmpeg_command": CMD}})
    assert p.path == "start_rung"
    assert paths({**raw, "start_rung": ["ep_360p"]}) == ["start_rung"]


def test_http_hls_js_path_is_relative_to_the_config_file_and_must_exist(
        tmp_path: Path) -> None:
    (tmp_path / "vendor").mkdir()
    (tmp_path / "vendor" / "hls.min.js").write_text("var Hls;")
    raw = base(http={"hls_js_path": "vendor/hls.min.js"})
    http = cfg.parse(raw, base_dir=tmp_path).http
    assert http is not None and http.hls_js_path == tmp_path / "vendor" / "hls.min.js"
    assert cfg.parse(base(http=True)).http == cfg.HttpSettings()  # default: none
    (p,) = problems(base(http={"hls_js_path": str(tmp_path / "nope.js")}))
    assert p.path == "http.hls_js_path" and "nope.js" in p.what


def test_temp_dir_defaults_to_systemds_state_directory(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Under hlsd@NAME, StateDirectory=hlsd/%i sets $STATE_DIRECTORY: the channel's own
    folder is its temp_dir unless the file names one."""
    raw = {k: v for k, v in base().items() if k != "temp_dir"}
    monkeypatch.delenv("STATE_DIRECTORY", raising=False)
    with pytest.raises(cfg.ConfigError) as err:
        cfg.parse(raw)
    assert [p.path for p in err.value.problems] == ["temp_dir"]
    monkeypatch.setenv("STATE_DIRECTORY", f"{tmp_path}/cam1:{tmp_path}/other")
    assert cfg.parse(raw).temp_dir == tmp_path / "cam1"
    assert cfg.parse({**raw, "temp_dir": "/srv/x"}).temp_dir == Path("/srv/x")
