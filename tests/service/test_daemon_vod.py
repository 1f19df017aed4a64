"""Finite inputs end to end: real ffmpeg, real segmenter, `hlsd run` to completion."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

import pytest

from tests.daemon_util import (
    FAST_X264,
    extinfs,
    hlsd_argv,
    make_source,
    probe_duration,
    tag,
    write_config,
)
from tests.hlscheck import MediaPlaylistWatcher, check_master

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def film(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """161 s: long enough that integer EXTINF rounding would drift visibly."""
    return make_source(tmp_path_factory.mktemp("film") / "film.ts", 161, size="192x108")


def test_file_input_runs_to_completion_as_vod(film: Path, tmp_path: Path) -> None:
    """1. a 161 s file in, index_segment_count 0 (keep all), segment_length 4
    2. `hlsd run` exits 0 on its own once everything is published
    3. the variant is a VOD playlist with ENDLIST; sum(EXTINF) matches the source
    4. ffmpeg decodes the published playlist for the full duration
    """
    www = tmp_path / "www"
    config = write_config(
        tmp_path / "vod.yaml", temp_dir=str(tmp_path / "work"), input_location=str(film),
        segment_length=4, index_segment_count=0, encoding_profile="ep_small",
        transfer_profile="local",
        ep_small={"ffmpeg_command": f"ffmpeg -i %s {FAST_X264} -b:v 200k -c:a aac -b:a 64k "
                                    "-f mpegts -"},
        local={"transfer_type": "copy", "directory": str(www)})
    done = subprocess.run(hlsd_argv("run", str(config)), capture_output=True, text=True,
                          timeout=240)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    # temp and state files are nobody else's business
    work = tmp_path / "work"
    assert not stat.S_IMODE(work.stat().st_mode) & 0o007
    assert stat.S_IMODE((work / "hlsd-state.json").stat().st_mode) == 0o600

    variant = (www / "live_ep_small.m3u8").read_text()
    MediaPlaylistWatcher("vod", check_window=False).check(variant,
                                                         lambda uri: (www / uri).is_file())
    assert tag(variant, "#EXT-X-PLAYLIST-TYPE") == "VOD" and "#EXT-X-ENDLIST" in variant
    source = probe_duration(film)
    assert abs(sum(extinfs(variant)) - source) <= 0.25, (sum(extinfs(variant)), source)
    assert all(d <= 4.5 for d in extinfs(variant))
    check_master((www / "live.m3u8").read_text(), lambda uri: (www / uri).is_file())

    decoded = probe_duration(www / "live_ep_small.m3u8")
    assert abs(decoded - source) <= 0.25, (decoded, source)
    out = subprocess.run(["ffmpeg", "-v", "error", "-i", str(www / "live.m3u8"), "-f", "null",
                          "-"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and not out.stderr.strip(), out.stderr[-2000:]
    # temp_dir holds only state once the segments are published
    assert not list((tmp_path / "work" / "ep_small").glob("*.ts"))


def test_restreaming_copies_without_reencoding(tmp_path: Path) -> None:
    """1. a source with a 2 s GOP, re-segmented with -c copy (no keyframe grid added)
    2. segments follow the source's keyframes: every one starts with a keyframe and lasts
       a whole number of GOPs; the stream is bit-identical in codec parameters
    """
    source = make_source(tmp_path / "src.ts", 20, gop=50)
    www = tmp_path / "www"
    config = write_config(
        tmp_path / "copy.yaml", temp_dir=str(tmp_path / "work"), input_location=str(source),
        segment_length=4, target_duration=6, index_segment_count=0,
        encoding_profile="ep_copy", transfer_profile="local",
        ep_copy={"ffmpeg_command": "ffmpeg -i %s -c copy -f mpegts -"},
        local={"transfer_type": "copy", "directory": str(www)})
    done = subprocess.run(hlsd_argv("run", str(config)), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    variant = (www / "live_ep_copy.m3u8").read_text()
    durations = extinfs(variant)
    assert abs(sum(durations) - probe_duration(source)) <= 0.1
    for d in durations[:-1]:
        assert abs(d / 2.0 - round(d / 2.0)) < 0.03, durations  # whole GOPs
    for uri in [ln for ln in variant.splitlines() if ln.endswith(".ts")]:
        first = subprocess.run(
            ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
             "frame=key_frame", "-read_intervals", "%+#1", "-of", "csv=p=0", str(www / uri)],
            capture_output=True, text=True, check=True).stdout.split()
        assert [f.strip(",") for f in first[:1]] == ["1"], uri
