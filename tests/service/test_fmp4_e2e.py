"""`segment_format: fmp4` end to end: `hlsd run` publishes CMAF that ffmpeg plays whole,
with init segments stored before the playlists that name them."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.daemon_util import (
    FAST_X264,
    extinfs,
    hlsd_argv,
    lavfi_command,
    make_source,
    probe_duration,
    read,
    running,
    wait_for,
    write_config,
)
from tests.hlscheck import MediaPlaylistWatcher, check_master

pytestmark = pytest.mark.e2e

FRAME = 1 / 25


@pytest.fixture(scope="module")
def film(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_source(tmp_path_factory.mktemp("film") / "film.ts", 15, size="192x108")


RUNGS = {
    "h264": f"{FAST_X264} -b:v 200k -c:a aac -b:a 64k",
    "video_only": f"{FAST_X264} -b:v 150k -an",
    "audio_only": "-vn -c:a aac -b:a 48k",
    "hevc": "-c:v libx265 -preset ultrafast -x265-params log-level=none -b:v 150k "
            "-c:a aac -b:a 48k",
}


def test_vod_ladder_in_fmp4_plays_whole(film: Path, tmp_path: Path) -> None:
    """1. a 15 s file → H.264+AAC, video-only, audio-only and HEVC+AAC rungs as fMP4
    2. every variant names its init segment with EXT-X-MAP (version 6), and each named
       object exists; the master names hvc1 for HEVC
    3. sum(EXTINF) = the source ± one frame; ffmpeg decodes each variant to the source's
       duration (± 0.25 s)"""
    www = tmp_path / "www"
    config = write_config(
        tmp_path / "fmp4.yaml", temp_dir=str(tmp_path / "work"), input_location=str(film),
        segment_length=4, index_segment_count=0, segment_format="fmp4",
        encoder_mode="per_rung", encoding_profile=list(RUNGS), transfer_profile="www",
        www={"transfer_type": "copy", "directory": str(www)},
        **{name: {"ffmpeg_command": f"ffmpeg -i %s {options} -f mpegts -"}
           for name, options in RUNGS.items()})
    done = subprocess.run(hlsd_argv("run", str(config)), capture_output=True, text=True,
                          timeout=240)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    source = probe_duration(film)
    for name in RUNGS:
        variant = (www / f"live_{name}.m3u8").read_text()
        MediaPlaylistWatcher(name, check_window=False).check(variant,
                                                            lambda uri: (www / uri).is_file())
        assert "#EXT-X-VERSION:6" in variant and variant.count("#EXT-X-MAP:") == 1, name
        assert all(line.endswith(".m4s") for line in variant.splitlines()
                   if line and not line.startswith("#"))
        stream = "a:0" if name == "audio_only" else "v:0"
        total = sum(extinfs(variant))
        expected = probe_duration(film, stream)
        assert abs(total - expected) <= FRAME + 0.03, (name, total, expected)
        decoded = probe_duration(www / f"live_{name}.m3u8", stream)
        assert abs(decoded - source) <= 0.25, (name, decoded, source)
    master = (www / "live.m3u8").read_text()
    check_master(master, lambda uri: (www / uri).is_file())
    assert "hvc1." in master and "avc1." in master


def test_live_fmp4_new_parameters_get_a_new_init_and_discontinuity(tmp_path: Path) -> None:
    """1. a live fMP4 rung; a reload changes its picture size (new SPS)
    2. the playlist gets a DISCONTINUITY and a new EXT-X-MAP naming a new init file;
       every object named is stored, at every poll
    3. once no listed segment needs the old init, it is deleted at the destination"""
    www = tmp_path / "www"
    settings = dict(temp_dir=str(tmp_path / "work"), input_location="lavfi", live=True,
                    segment_length=1, index_segment_count=3, segment_format="fmp4",
                    encoding_profile="ep", transfer_profile="www",
                    www={"transfer_type": "copy", "directory": str(www)},
                    ep={"ffmpeg_command": lavfi_command(size="160x90")})
    config = write_config(tmp_path / "live.yaml", **settings)
    variant = www / "live_ep.m3u8"
    watcher = MediaPlaylistWatcher("ep")

    def maps() -> list[str]:
        text = read(variant) or ""
        watcher.check(text, lambda uri: (www / uri).is_file())
        return [line for line in text.splitlines() if line.startswith("#EXT-X-MAP:")]

    with running(config, tmp_path / "hlsd.log") as proc:
        first = wait_for(lambda: read(variant) and len(extinfs(read(variant) or "")) >= 2
                         and maps(), 30, "two fMP4 segments")
        old_init = first[0].split('"')[1]
        settings["ep"] = {"ffmpeg_command": lavfi_command(size="192x108")}
        config.write_text(yaml.safe_dump(settings))
        proc.send_signal(signal.SIGHUP)
        both = wait_for(lambda: len(maps()) == 2 and maps(), 40, "a second EXT-X-MAP")
        text = read(variant) or ""
        new_init = both[1].split('"')[1]
        assert new_init != old_init
        lines = text.splitlines()
        assert lines[lines.index(both[1]) - 1] == "#EXT-X-DISCONTINUITY"
        wait_for(lambda: len(maps()) == 1 and not (www / old_init).exists(), 40,
                 "the old init deleted after its last segment")
        assert (www / new_init).is_file()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
