"""input_location and backup_inputs naming a local file (hlsd.config.location): a file that
is not there or cannot be read is a problem at load time, never a "live" input retried for
ever; URLs, stdin, devices and filter graphs are left to ffmpeg."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from hlsd import config as cfg
from hlsd.config.location import local_path, reads_local_input
from tests.config.test_loader import CMD, base, problems

ALLOWED = "an existing file, a URL, a device or '-'"
LAVFI = "ffmpeg -re -f lavfi -i testsrc2=size=320x180:rate=25 -c:v libx264 -f mpegts -"


@pytest.mark.parametrize(("value", "path"), [
    ("/srv/media/film.mp4", "/srv/media/film.mp4"),
    ("./film.mp4", "./film.mp4"),
    ("../media/film.ts", "../media/film.ts"),
    ("~/film.mp4", "~/film.mp4"),
    ("film.mp4", "film.mp4"),
    ("media/cam.ts", "media/cam.ts"),
    ("/dev/video0", "/dev/video0"),
    ("file:/srv/film.mp4", "/srv/film.mp4"),
    ("file:///srv/film.mp4", "/srv/film.mp4"),
    # not paths: left to ffmpeg
    ("-", None), ("", None), ("lavfi", None), ("default", None),
    ("rtmp://127.0.0.1/live/cam", None), ("srt://0.0.0.0:9000?mode=listener", None),
    ("udp://239.1.1.1:5000", None), ("https://example.com/live.m3u8", None),
    ("testsrc2=size=192x144:rate=25", None), ("hw:0", None), (":0.0", None),
    ("video=Integrated Camera", None), ("DeckLink Mini Recorder", None),
    ("pipe:0", None),
])
def test_what_reads_as_a_local_path(value: str, path: str | None) -> None:
    assert local_path(value) == path


@pytest.mark.parametrize(("source", "commands", "reads"), [
    (None, [CMD], True),
    (None, [LAVFI], False),  # carries its own input: input_location unused
    (None, ["ffmpeg -f lavfi -i %s -c:v libx264 -f mpegts -"], False),  # a filter graph
    (None, ["ffmpeg -f lavfi -i sine -i %s -map 1 -f mpegts -"], True),  # -f: first input
    (None, ["ffmpeg -f v4l2 -i %s -c:v libx264 -f mpegts -"], True),  # a device: a path
    ("ffmpeg -re -i %s -c copy -f mpegts -", [CMD], True),
    ("cat %s", [CMD], True),
    ("ffmpeg -f lavfi -i testsrc2 -f mpegts -", [CMD], False),  # %s in CMD is its pipe
])
def test_which_configs_open_input_location(source: str | None, commands: list[str],
                                           reads: bool) -> None:
    assert reads_local_input(source, commands) is reads


def test_a_file_that_does_not_exist_is_an_error_not_a_live_input() -> None:
    """The issue's case: etc/file.yaml on a machine without the film."""
    (p,) = problems(base(input_location="/x/film.mp4"))
    assert str(p) == ("input_location: /x/film.mp4 does not exist; allowed: an existing "
                      "file, a URL, a device or '-'")


def test_live_true_does_not_excuse_a_missing_file() -> None:
    (p,) = problems(base(input_location="/x/film.mp4", live=True))
    assert p.path == "input_location" and "does not exist" in p.what


def test_an_existing_file_may_be_live_to_be_looped(tmp_path: Path) -> None:
    film = tmp_path / "film.ts"
    film.write_bytes(b"")
    raw = base(input_location=str(film), live=True)
    raw["ep_720p"]["ffmpeg_command"] = "ffmpeg -stream_loop -1 -re -i %s -c copy -f mpegts -"
    c = cfg.parse(raw)
    assert c.live and c.input_location == str(film)
    assert not cfg.parse(base(input_location=str(film))).live  # a file is finite by default


def test_a_device_under_dev_exists_or_not() -> None:
    assert cfg.parse(base(input_location="/dev/null")).live  # a character device: live
    (p,) = problems(base(input_location="/dev/hlsd-no-such-video0"))
    assert p.path == "input_location" and "/dev/hlsd-no-such-video0 does not exist" in p.what


def test_a_file_this_user_may_not_read_is_an_error(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    film = tmp_path / "film.mp4"
    film.write_bytes(b"")
    film.chmod(0o000)
    if os.geteuid() == 0:  # root reads anything: answer as an ordinary user would
        access = os.access
        monkeypatch.setattr(os, "access",
                            lambda path, mode: Path(path) != film and access(path, mode))
    (p,) = problems(base(input_location=str(film)))
    assert p.path == "input_location"
    assert p.what.startswith(f"{film} cannot be read by this user") and "----------" in p.what
    assert p.allowed == ALLOWED


def test_a_folder_is_no_input(tmp_path: Path) -> None:
    (p,) = problems(base(input_location=str(tmp_path)))
    assert p.what == f"{tmp_path} is a folder, not a file"


@pytest.mark.parametrize("extra", [
    {"input_location": "lavfi"},  # the usual: commands with their own input
    {"input_location": "/x/film.mp4"},  # unused: no command reads %s
])
def test_commands_that_carry_their_own_input_are_not_checked(extra: dict[str, Any]) -> None:
    raw = base(live=True, **extra)
    raw["ep_720p"]["ffmpeg_command"] = LAVFI
    assert cfg.parse(raw).input_location == extra["input_location"]


def test_a_filter_graph_read_with_f_lavfi_is_no_path() -> None:
    raw = base(input_location="testsrc2=size=192x144:rate=25", live=True)
    raw["ep_720p"]["ffmpeg_command"] = "ffmpeg -re -f lavfi -i %s -c:v libx264 -f mpegts -"
    assert cfg.parse(raw).input_location == "testsrc2=size=192x144:rate=25"


def test_source_command_reading_a_missing_file(tmp_path: Path) -> None:
    raw = base(input_location=str(tmp_path / "gone.ts"),
               source_command="ffmpeg -re -i %s -c copy -f mpegts -")
    (p,) = problems(raw)
    assert p.path == "input_location" and "gone.ts does not exist" in p.what


def test_a_missing_backup_file_is_named_by_its_index(tmp_path: Path) -> None:
    raw = base(backup_inputs=["udp://239.1.1.1:5000", str(tmp_path / "loop.ts")])
    (p,) = problems(raw)
    assert p.path == "backup_inputs[1]" and p.what == f"{tmp_path / 'loop.ts'} does not exist"


def test_a_relative_input_file_is_relative_to_the_config_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As every path in the file: under systemd the working directory is /."""
    (tmp_path / "media").mkdir()
    (tmp_path / "media" / "film.ts").write_bytes(b"")
    path = tmp_path / "hlsd.yaml"
    path.write_text(f"temp_dir: work\ninput_location: media/film.ts\nencoding_profile: e\n"
                    f"transfer_profile: t\ne: {{ffmpeg_command: '{CMD}'}}\n"
                    "t: {transfer_type: copy, directory: www}\n")
    monkeypatch.chdir("/")
    c = cfg.load(path)
    assert c.input_location == str(tmp_path / "media" / "film.ts") and not c.live
    path.write_text(path.read_text().replace("media/film.ts", "film.ts"))
    with pytest.raises(cfg.ConfigError) as info:
        cfg.load(path)
    assert str(info.value) == (f"input_location: {tmp_path / 'film.ts'} does not exist; "
                               f"allowed: {ALLOWED}")
