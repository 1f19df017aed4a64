"""`dvr_window` and `recording` (hlsd.config.recording through hlsd.config.parse)."""

from __future__ import annotations

from pathlib import Path

from hlsd import config as cfg
from tests.config.test_loader import base, problems

ARCHIVE = {"transfer_type": "copy", "directory": "/tmp/hlsd-test-archive"}


def test_off_by_default_and_set() -> None:
    plain = cfg.parse(base())
    assert plain.dvr_window == 0 and plain.recording is None
    config = cfg.parse(base(dvr_window=7200, archive=ARCHIVE,
                            recording={"transfer_profile": "archive", "period": 600}))
    assert config.dvr_window == 7200
    assert config.recording is not None and config.recording.period == 600
    assert isinstance(config.recording.transfer_profile, cfg.CopyProfile)
    assert config.recording.transfer_profile.name == "archive"
    assert cfg.parse(base(archive=ARCHIVE, recording={"transfer_profile": "archive"})
                     ).recording.period == 3600  # type: ignore[union-attr]


def test_dvr_window_mistakes() -> None:
    (negative,) = problems(base(dvr_window=-5))
    assert negative.path == "dvr_window" and "0 to 604800" in negative.allowed
    (text,) = problems(base(dvr_window="1h"))
    assert text.path == "dvr_window" and "number" in text.allowed


def test_recording_mistakes() -> None:
    (unknown,) = problems(base(archive=ARCHIVE, recording={"transfer_profile": "archiv"}))
    assert unknown.path == "recording.transfer_profile" and "archive" in unknown.what
    (live,) = problems(base(recording={"transfer_profile": "local"}))
    assert live.path == "recording.transfer_profile" and "live destination" in live.what
    (zero,) = problems(base(archive=ARCHIVE, recording={"transfer_profile": "archive",
                                                        "period": 0}))
    assert zero.path == "recording.period" and "10 to 86400" in zero.allowed
    (short,) = problems(base(segment_length=8, archive=ARCHIVE,
                             recording={"transfer_profile": "archive", "period": 12}))
    assert short.path == "recording.period" and "at least 16" in short.allowed
    (missing,) = problems(base(recording={}))
    assert missing.path == "recording.transfer_profile" and missing.what == "is missing"
    (typo,) = problems(base(archive=ARCHIVE, recording={"transfer_profile": "archive",
                                                        "periode": 60}))
    assert typo.path.startswith("recording") and "period" in typo.allowed + typo.what


def test_dvr_window_on_a_file_input_is_warned_about(tmp_path: Path) -> None:
    film = tmp_path / "film.ts"
    film.write_bytes(b"\x47" * 188)
    config = cfg.parse(base(dvr_window=60, input_location=str(film)))
    assert any("dvr_window" in w for w in config.warnings)


def test_recording_an_encrypted_stream_warns_that_keys_are_not_kept() -> None:
    keys = {"transfer_type": "copy", "directory": "/tmp/hlsd-test-keys"}
    config = cfg.parse(base(archive=ARCHIVE, keys=keys,
                            encryption={"key_transfer_profile": "keys"},
                            recording={"transfer_profile": "archive"}))
    assert any(w.startswith("recording.transfer_profile") and "keys" in w
               for w in config.warnings)
