"""`backup_inputs` and `input_loss` (hlsd.config.continuity through hlsd.config.parse): the
valid forms, and every problem reported with its key path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hlsd import config as cfg
from tests.config.test_loader import CMD, base, paths, problems

LAVFI = "ffmpeg -f lavfi -i testsrc2 -c:v libx264 -f mpegts -"


def whats(raw: dict[str, Any]) -> dict[str, str]:
    return {p.path: p.what for p in problems(raw)}


# -- valid forms ----------------------------------------------------------------------------------

def test_neither_key_means_no_backups_and_no_loss_handling() -> None:
    c = cfg.parse(base())
    assert c.backup_inputs == () and c.input_loss is None


def test_backup_inputs_keep_their_order() -> None:
    c = cfg.parse(base(backup_inputs=["srt://b1.example:9000", "udp://239.1.1.1:5000"]))
    assert c.backup_inputs == ("srt://b1.example:9000", "udp://239.1.1.1:5000")


def test_a_single_string_is_one_backup() -> None:
    c = cfg.parse(base(backup_inputs="udp://239.1.1.1:5000"))
    assert c.backup_inputs == ("udp://239.1.1.1:5000",)


@pytest.mark.parametrize("value", [True, {}])
def test_input_loss_true_or_empty_gives_the_defaults(value: Any) -> None:
    loss = cfg.parse(base(input_loss=value)).input_loss
    assert loss == cfg.InputLossSettings()
    assert loss is not None and loss.after == 1.0 and loss.slate is None


def test_input_loss_false_is_off() -> None:
    assert cfg.parse(base(input_loss=False)).input_loss is None


def test_input_loss_as_a_mapping(tmp_path: Path) -> None:
    slate = tmp_path / "slate.png"
    slate.write_bytes(b"\x89PNG")
    loss = cfg.parse(base(input_loss={"after": 2.5, "slate": str(slate)})).input_loss
    assert loss == cfg.InputLossSettings(after=2.5, slate=slate)


@pytest.mark.parametrize("after", [0.2, 60, 1])
def test_after_at_its_limits_is_accepted(after: float) -> None:
    loss = cfg.parse(base(input_loss={"after": after})).input_loss
    assert loss is not None and loss.after == float(after)


def test_a_relative_slate_is_relative_to_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "art").mkdir()
    (tmp_path / "art" / "slate.jpg").write_bytes(b"\xff\xd8")
    path = tmp_path / "hlsd.yaml"
    path.write_text("temp_dir: /tmp/hlsd-test-work\ninput_location: 'srt://h:9000'\n"
                    "encoding_profile: e\ntransfer_profile: t\n"
                    f"e: {{ffmpeg_command: '{CMD}'}}\n"
                    "t: {transfer_type: copy, directory: /tmp/hlsd-test-www}\n"
                    "backup_inputs: udp://239.1.1.1:5000\n"
                    "input_loss: {after: 3, slate: art/slate.jpg}\n")
    c = cfg.load(path)
    assert c.input_loss == cfg.InputLossSettings(after=3.0, slate=tmp_path / "art/slate.jpg")
    assert c.backup_inputs == ("udp://239.1.1.1:5000",)


def test_a_source_command_reads_the_input_for_every_profile() -> None:
    c = cfg.parse(base(source_command="ffmpeg -i %s -c copy -f mpegts -",
                       ep_720p={"ffmpeg_command": "ffmpeg -i pipe:0 -c:v libx264 -f mpegts -"},
                       input_loss=True, backup_inputs=["udp://239.1.1.1:5000"]))
    assert c.backup_inputs == ("udp://239.1.1.1:5000",) and c.input_loss is not None


def test_a_finite_file_declared_live_may_have_backups(tmp_path: Path) -> None:
    media = tmp_path / "film.ts"
    media.write_bytes(b"")
    c = cfg.parse(base(input_location=str(media), live=True,
                       backup_inputs=["udp://239.1.1.1:5000"]))
    assert c.live and c.backup_inputs == ("udp://239.1.1.1:5000",)


# -- problems -------------------------------------------------------------------------------------

def test_stdin_cannot_be_a_backup() -> None:
    found = whats(base(backup_inputs=["udp://239.1.1.1:5000", "-"]))
    assert list(found) == ["backup_inputs[1]"]
    assert "stdin" in found["backup_inputs[1]"]


def test_a_backup_listed_twice_is_named_by_its_second_place() -> None:
    found = whats(base(backup_inputs=["udp://a:1", "udp://b:2", "udp://a:1"]))
    assert list(found) == ["backup_inputs[2]"]
    assert "listed already" in found["backup_inputs[2]"]


def test_the_primary_cannot_be_its_own_backup() -> None:
    raw = base(backup_inputs=["udp://a:1", "rtmp://127.0.0.1/live/cam"])
    assert paths(raw) == ["backup_inputs[1]"]


@pytest.mark.parametrize("value", [{"a": "udp://a:1"}, [1], [""], ["udp://a:1", None], 5])
def test_backup_inputs_must_be_a_list_of_urls(value: Any) -> None:
    assert paths(base(backup_inputs=value)) == ["backup_inputs"]


@pytest.mark.parametrize("after", [0.1, 0, -1, 61, 3600, "soon", True, float("nan")])
def test_after_out_of_range_or_not_a_number(after: Any) -> None:
    assert paths(base(input_loss={"after": after})) == ["input_loss.after"]


def test_an_unknown_key_in_input_loss_gets_a_suggestion() -> None:
    found = whats(base(input_loss={"after": 2, "slaet": "x.png"}))
    assert list(found) == ["input_loss.slaet"]
    assert "did you mean 'slate'" in found["input_loss.slaet"]


@pytest.mark.parametrize("value", ["yes", 3, ["after"]])
def test_input_loss_must_be_true_or_a_section(value: Any) -> None:
    assert paths(base(input_loss=value)) == ["input_loss"]


def test_a_slate_that_is_not_a_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing.png"
    assert paths(base(input_loss={"slate": str(missing)})) == ["input_loss.slate"]
    found = whats(base(input_loss={"slate": str(tmp_path)}))  # a directory
    assert list(found) == ["input_loss.slate"] and "is not a file" in found["input_loss.slate"]


def test_a_finite_file_input_cannot_have_backups_or_loss_handling(tmp_path: Path) -> None:
    media = tmp_path / "film.ts"
    media.write_bytes(b"")
    found = whats(base(input_location=str(media), backup_inputs=["udp://a:1"]))
    assert list(found) == ["backup_inputs"] and "finite" in found["backup_inputs"]
    assert paths(base(input_location=str(media), input_loss=True)) == ["input_loss"]


@pytest.mark.parametrize("key", ["backup_inputs", "input_loss"])
def test_stdin_as_the_input_cannot_have_continuity(key: str) -> None:
    value: Any = ["udp://a:1"] if key == "backup_inputs" else {"after": 2}
    found = whats(base(input_location="-", **{key: value}))
    assert list(found) == [key] and "stdin" in found[key]


def test_continuity_needs_a_command_that_reads_the_input() -> None:
    raw = base(backup_inputs=["udp://a:1"], ep_720p={"ffmpeg_command": LAVFI})
    found = whats(raw)
    assert list(found) == ["backup_inputs"] and "%s" in found["backup_inputs"]
    assert paths(base(input_loss=True, ep_720p={"ffmpeg_command": LAVFI})) == ["input_loss"]
    cfg.parse(base(ep_720p={"ffmpeg_command": LAVFI}))  # fine without continuity


def test_every_continuity_problem_is_reported_at_once(tmp_path: Path) -> None:
    raw = base(backup_inputs=["-", "udp://a:1", "udp://a:1"],
               input_loss={"after": 99, "slate": str(tmp_path / "none.png"), "linger": 1})
    assert set(paths(raw)) == {"backup_inputs[0]", "backup_inputs[2]", "input_loss.after",
                               "input_loss.slate", "input_loss.linger"}


@pytest.mark.parametrize("url", ["srt://h:9000?mode=caller&passphrase=Top-Secret-1",
                                 "rtmp://user:Top-Secret-1@h/live/cam"])
def test_a_duplicate_backup_does_not_echo_its_secret(url: str) -> None:
    (problem,) = problems(base(backup_inputs=[url, url]))
    assert problem.path == "backup_inputs[1]"
    assert "Top-Secret-1" not in str(problem)
