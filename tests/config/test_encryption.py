"""The `encryption:` section: what is accepted, and how mistakes are explained."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from hlsd import config as cfg
from hlsd.cli import main


def base(**encryption: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "temp_dir": "/tmp/w", "input_location": "-", "encoding_profile": "ep",
        "transfer_profile": "www",
        "ep": {"ffmpeg_command": "ffmpeg -i %s -c:v libx264 -f mpegts -"},
        "www": {"transfer_type": "copy", "directory": "/srv/www"},
        "keys": {"transfer_type": "copy", "directory": "/srv/keys"}}
    if encryption:
        raw["encryption"] = encryption
    return raw


def problems(raw: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(cfg.ConfigError) as err:
        cfg.parse(raw)
    return {p.path: p.what for p in err.value.problems}


def test_defaults_and_key_destinations() -> None:
    c = cfg.parse(base(key_transfer_profile="keys", key_url_prefix="https://keys.example/"))
    assert c.encryption is not None
    assert (c.encryption.method, c.encryption.key_rotation) == ("AES-128", 0)
    assert [p.name for p in c.encryption.key_transfer_profiles] == ["keys"]
    assert [p.name for p in c.transfer_profiles] == ["www"]  # keys are no segment target
    assert c.warnings == ()
    assert cfg.parse(base()).encryption is None


@pytest.mark.parametrize(("section", "path", "what"), [
    ({"key_url_prefix": "x/"}, "encryption.key_transfer_profile", "is missing"),
    ({"key_transfer_profile": "nope"}, "encryption.key_transfer_profile", "not a section"),
    ({"key_transfer_profile": "keys", "method": "SAMPLE-AES"}, "encryption.method", "found"),
    ({"key_transfer_profile": "keys", "key_rotation": -1}, "encryption.key_rotation", "-1"),
    ({"key_transfer_profile": "keys", "key_url_prefix": 'a"b'}, "encryption.key_url_prefix",
     "found"),
    ({"key_transfer_profile": "keys", "rotation": 3}, "encryption.rotation", "unknown key"),
])
def test_mistakes_are_explained(section: dict[str, Any], path: str, what: str) -> None:
    found = problems(base(**section))
    assert path in found and what in found[path], found


def test_a_segment_destination_listed_for_keys_is_warned_about() -> None:
    c = cfg.parse(base(key_transfer_profile="www"))
    assert any("also receive(s) the segments" in w for w in c.warnings)


def test_relative_key_uris_with_keys_elsewhere_are_warned_about() -> None:
    c = cfg.parse(base(key_transfer_profile="keys"))
    assert any(w.startswith("encryption.key_url_prefix: is empty") for w in c.warnings)


def test_segment_format_is_ts_or_fmp4() -> None:
    assert cfg.parse(base()).segment_format == "ts"
    assert cfg.parse({**base(), "segment_format": "fmp4"}).segment_format == "fmp4"
    assert "segment_format" in problems({**base(), "segment_format": "mkv"})


# -- key_seed: a secret shared by redundant hosts ------------------------------------------

SEED = "0123456789abcdef-shared-by-a-and-b"


def test_key_seed_is_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HLSD_TEST_KEY_SEED", SEED)
    c = cfg.parse(base(key_transfer_profile="keys", key_seed="${HLSD_TEST_KEY_SEED}"))
    assert c.encryption is not None and c.encryption.key_seed is not None
    assert c.encryption.key_seed.reveal() == SEED
    assert SEED not in repr(c) and str(c.encryption.key_seed) == "***"
    assert c.written_secrets == ()
    unseeded = cfg.parse(base(key_transfer_profile="keys")).encryption
    assert unseeded is not None and unseeded.key_seed is None  # random keys, as before


@pytest.mark.parametrize(("seed", "what"), [
    ("short-seed", "has only 10 characters"),
    ("", "is empty"),
    (" " * 20, "is empty"),
    (["a" * 16], "found a list"),
    ({"v": "a" * 16}, "found a dict"),
    (True, "found a bool"),
])
def test_key_seed_mistakes_are_explained_without_the_seed(seed: object, what: str) -> None:
    found = problems(base(key_transfer_profile="keys", key_seed=seed))
    assert list(found) == ["encryption.key_seed"] and what in found["encryption.key_seed"]
    with pytest.raises(cfg.ConfigError) as err:
        cfg.parse(base(key_transfer_profile="keys", key_seed=seed))
    (problem,) = err.value.problems
    assert problem.allowed.startswith("a secret of at least 16 characters")
    assert "short-seed" not in str(err.value)


def test_an_unset_seed_variable_is_one_problem() -> None:
    with pytest.raises(cfg.ConfigError) as err:
        cfg.parse(base(key_transfer_profile="keys", key_seed="${HLSD_TEST_UNSET_SEED}"))
    assert [(p.path, p.what) for p in err.value.problems] == [
        ("encryption.key_seed", "environment variable HLSD_TEST_UNSET_SEED is not set")]


def test_a_seed_written_in_a_readable_file_is_warned_about_and_never_printed(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """1. a world-readable config holding key_seed as written, not as ${VAR}
    2. `hlsd check`: valid; the "secrets in a readable file" warning names
       encryption.key_seed; the effective settings show *** where the seed is; the seed
       itself is printed nowhere"""
    raw = base(key_transfer_profile="keys", key_seed=SEED)
    path = tmp_path / "hlsd.yaml"
    path.write_text(yaml.safe_dump(raw))
    path.chmod(0o644)
    assert main(["check", str(path)]) == 0
    out = capsys.readouterr()
    assert SEED not in out.out + out.err
    (warning,) = [w for w in out.err.splitlines() if "readable by every user" in w]
    assert "encryption.key_seed" in warning
    assert yaml.safe_load(out.out)["encryption"]["key_seed"] == "***"
