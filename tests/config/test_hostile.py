"""Hostile config input: whatever the file holds, `hlsd check` and `hlsd run` answer with
problems (exit 2), never a traceback or a hang; strings stay inert; secrets stay hidden."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hlsd import config as cfg
from hlsd.config.model import TRANSFER_TYPES, Config, yaml_keys

HLSD = [sys.executable, "-m", "hlsd"]
TOP = sorted(yaml_keys(Config))
SECTION_KEYS = sorted({k for cls in set(TRANSFER_TYPES.values()) for k in yaml_keys(cls)}
                      | {"ffmpeg_command", "bandwidth"})

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30),
    st.sampled_from(["ffmpeg -i %s -f mpegts -", "copy", "ftp", "s3", "sftp", "-", "..",
                     "../../etc", "${NOT_SET_ANYWHERE}", "$(touch /tmp/pwn)", "a\0b"]))
keys = st.one_of(st.sampled_from(TOP + SECTION_KEYS + ["ep", "www", "transfer_type"]),
                 st.text(max_size=8), st.integers(), st.booleans(), st.none())
trees = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=5), st.dictionaries(keys, inner, max_size=6)), max_leaves=40)


def valid() -> dict[str, Any]:
    return {"temp_dir": "/tmp/hlsd-hostile", "input_location": "-",
            "encoding_profile": "ep", "transfer_profile": "www",
            "ep": {"ffmpeg_command": "ffmpeg -i %s -c:v libx264 -f mpegts -"},
            "www": {"transfer_type": "copy", "directory": "/tmp/hlsd-hostile-www"}}


def parses_or_explains(raw: Any) -> None:
    try:
        cfg.parse(raw)
    except cfg.ConfigError as exc:
        assert exc.problems and all(str(p) for p in exc.problems)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trees)
def test_random_documents_are_accepted_or_explained(raw: Any) -> None:
    parses_or_explains(raw)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(TOP), scalars | st.lists(scalars, max_size=3))
def test_any_value_of_any_setting_is_accepted_or_explained(key: str, value: Any) -> None:
    parses_or_explains({**valid(), key: value})


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(SECTION_KEYS), scalars)
def test_any_value_in_a_transfer_section_is_accepted_or_explained(key: str,
                                                                  value: Any) -> None:
    raw = valid()
    raw["www"] = {**raw["www"], key: value}
    parses_or_explains(raw)


def check(path: Path) -> subprocess.CompletedProcess[str]:
    """`hlsd check` as an operator runs it; a hang fails the test (timeout)."""
    return subprocess.run([*HLSD, "check", str(path)], capture_output=True, text=True,
                          timeout=20, check=False)


def assert_explained(out: subprocess.CompletedProcess[str], needle: str) -> None:
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr and needle in out.stderr, out.stderr


ALIAS_BOMB = "\n".join(
    ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    + [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    + ["encoding_profile: *a8", ""])


@pytest.mark.parametrize(("name", "data", "needle"), [
    ("not_utf8", b"temp_dir: /tmp/\xff\xfe\n", "not UTF-8"),
    ("nan", b"temp_dir: /tmp/x\nsegment_length: .nan\n", "segment_length: found nan"),
    ("inf", b"temp_dir: /tmp/x\nsegment_length: .inf\n", "segment_length: found inf"),
    ("huge", b"temp_dir: /tmp/x\nindex_segment_count: " + b"9" * 400 + b"\n",
     "index_segment_count"),
    ("alias_bomb", ALIAS_BOMB.encode(), "encoding_profile: expected a profile name"),
    ("deep", b"a: " + b"[" * 5000 + b"]" * 5000 + b"\n", "(file)"),
    ("nul", b"temp_dir: \"/tmp/a\\0b\"\n", "temp_dir: holds a NUL"),
    ("not_a_mapping", b"- just\n- a list\n", "not a mapping"),
])
def test_hostile_files_get_one_line_per_problem(tmp_path: Path, name: str, data: bytes,
                                                needle: str) -> None:
    """1. a file an operator (or an attacker) could write
    2. `hlsd check` exits 2 naming the problem, with no traceback and no hang"""
    path = tmp_path / f"{name}.yaml"
    path.write_bytes(data)
    assert_explained(check(path), needle)


def test_run_refuses_a_hostile_file_like_check(tmp_path: Path) -> None:
    path = tmp_path / "nan.yaml"
    path.write_bytes(b"temp_dir: /tmp/x\nsegment_length: .nan\n")
    out = subprocess.run([*HLSD, "run", str(path)], capture_output=True, text=True,
                         timeout=20, check=False)
    assert_explained(out, "segment_length")


def test_shell_metacharacters_are_inert(tmp_path: Path) -> None:
    """Every string field holding shell syntax stays a literal: nothing runs."""
    marker = tmp_path / "pwned"
    evil = f"$(touch {marker}); `touch {marker}` | touch {marker} && touch {marker}"
    raw = valid()
    raw.update(temp_dir=str(tmp_path / "work"), input_location=evil, url_prefix="x",
               segment_prefix="live", index_prefix="live")
    raw["ep"] = {"ffmpeg_command": f"ffmpeg -i %s -metadata title='{evil}' -f mpegts -"}
    path = tmp_path / "evil.yaml"
    path.write_text(yaml.safe_dump(raw))
    out = check(path)
    assert out.returncode == 0, out.stderr
    assert not marker.exists()
    settings_out = yaml.safe_load(out.stdout)
    argv = settings_out["encoder_commands"]["ep"]
    assert f"title={evil}" in argv  # one argument, not split
    # the live input is opened by the ingest stage's reader: one argument there too
    assert evil in settings_out["input_readers"]["primary"]["command"]


@pytest.mark.parametrize("key", ["segment_prefix", "index_prefix"])
@pytest.mark.parametrize("value", ["../x", "a/b", "..", "/etc/passwd", ".hidden"])
def test_prefixes_cannot_escape_their_directory(key: str, value: str) -> None:
    with pytest.raises(cfg.ConfigError) as err:
        cfg.parse({**valid(), key: value})
    assert any(p.path == key for p in err.value.problems)


@pytest.mark.parametrize("name", ["../ep", "a/b", ".ep", "ep name"])
def test_rung_names_cannot_escape_temp_dir(name: str) -> None:
    raw = valid()
    raw["encoding_profile"] = name
    raw[name] = raw.pop("ep")
    with pytest.raises(cfg.ConfigError):
        cfg.parse(raw)


def test_secrets_stay_out_of_check_output_and_problems(tmp_path: Path) -> None:
    secret = "hunter2-very-secret"
    raw = valid()
    raw["transfer_profile"] = ["www", "ftp"]
    raw["ftp"] = {"transfer_type": "ftp", "remote_host": "127.0.0.1", "user_name": "u",
                  "password": secret, "port": "not a port"}
    path = tmp_path / "secret.yaml"
    path.write_text(yaml.safe_dump(raw))
    path.chmod(0o600)
    bad = check(path)
    assert bad.returncode == 2 and secret not in bad.stdout + bad.stderr
    raw["ftp"]["port"] = 2121
    path.write_text(yaml.safe_dump(raw))
    good = check(path)
    assert good.returncode == 0, good.stderr
    assert secret not in good.stdout + good.stderr and "***" in good.stdout
    assert "readable by every user" not in good.stderr


def test_world_readable_file_with_secrets_gets_a_warning(tmp_path: Path) -> None:
    raw = valid()
    raw["transfer_profile"] = "ftp"
    raw["ftp"] = {"transfer_type": "ftp", "remote_host": "h", "user_name": "u",
                  "password": "p4ss"}
    path = tmp_path / "open.yaml"
    path.write_text(yaml.safe_dump(raw))
    os.chmod(path, 0o644)
    out = check(path)
    assert out.returncode == 0 and "readable by every user" in out.stderr, out.stderr
    assert "p4ss" not in out.stderr


def test_finite_numbers_only() -> None:
    for value in (math.nan, math.inf, -math.inf):
        with pytest.raises(cfg.ConfigError):
            cfg.parse({**valid(), "segment_length": value})
