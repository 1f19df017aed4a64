"""The `encryption:` section: what is accepted, and how mistakes are explained."""

from __future__ import annotations

from typing import Any

import pytest

from hlsd import config as cfg


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
