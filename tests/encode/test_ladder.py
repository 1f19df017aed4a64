"""The bitrate ladder: aligned rungs, audio-only fallback, measured master, fan-out."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.daemon_util import (
    FAST_X264,
    descendants,
    hlsd_argv,
    make_source,
    read,
    running,
    wait_for,
    write_config,
)
from tests.hlscheck import MediaPlaylistWatcher, check_master

pytestmark = pytest.mark.e2e

FRAME = 1 / 25


def ladder_profiles(source_input: str = "-i %s", out: str = "") -> dict[str, dict[str, str]]:
    return {
        "ep_360p": {"ffmpeg_command": f"ffmpeg {source_input} {out} -s 320x180 {FAST_X264} "
                                      "-b:v 400k -c:a aac -b:a 64k -f mpegts -"},
        "ep_180p": {"ffmpeg_command": f"ffmpeg {source_input} {out} -s 160x90 {FAST_X264} "
                                      "-b:v 150k -c:a aac -b:a 48k -f mpegts -"},
        "ep_audio": {"ffmpeg_command": f"ffmpeg {source_input} {out} -vn -c:a aac -b:a 64k "
                                       "-f mpegts -"},
    }


def first_pts(path: Path, stream: str) -> float:
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", stream,
                          "-show_entries", "packet=pts_time", "-of", "csv=p=0", str(path)],
                         capture_output=True, text=True, check=True).stdout.split()
    return min(float(x.strip(",")) for x in out if x.strip(",") not in ("", "N/A"))


def segment_uris(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.endswith(".ts")]


def seq_of(uri: str) -> int:
    return int(uri.rsplit("-", 1)[1][:-3])


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_source(tmp_path_factory.mktemp("ladder") / "src.ts", 24, size="320x180")


@pytest.mark.parametrize("mode", ["per_rung", "shared"])
def test_rungs_are_aligned_and_the_master_is_measured(source: Path, tmp_path: Path,
                                                      mode: str) -> None:
    """1. a 24 s file through a 3-rung ladder (two video sizes + 64k audio-only)
    2. every rung has the same sequence numbers; each segment's first PTS is the same on
       every video rung within one frame, and on the audio-only rung within one AAC PES
    3. the master lists every rung (video first) with measured BANDWIDTH/AVERAGE-BANDWIDTH,
       CODECS from the stream, RESOLUTION/FRAME-RATE for video only; ffmpeg reads it
    """
    www = tmp_path / "www"
    config = write_config(
        tmp_path / "ladder.yaml", temp_dir=str(tmp_path / "work"),
        input_location=str(source), segment_length=2, index_segment_count=0,
        encoder_mode=mode, encoding_profile=["ep_360p", "ep_180p", "ep_audio"],
        transfer_profile="local", local={"transfer_type": "copy", "directory": str(www)},
        **ladder_profiles())
    done = subprocess.run(hlsd_argv("run", str(config)), capture_output=True, text=True,
                          timeout=240)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    playlists = {r: (www / f"live_{r}.m3u8").read_text()
                 for r in ("ep_360p", "ep_180p", "ep_audio")}
    uris = {r: segment_uris(t) for r, t in playlists.items()}
    seqs = {r: [seq_of(u) for u in us] for r, us in uris.items()}
    assert seqs["ep_360p"] == seqs["ep_180p"]
    # AAC's priming and padding may outlast the last video frame: at the end of a file
    # the audio-only rung may carry one extra, tiny segment, and nothing else may differ.
    extra = seqs["ep_audio"][len(seqs["ep_360p"]):]
    assert seqs["ep_audio"][:len(seqs["ep_360p"])] == seqs["ep_360p"]
    assert len(extra) <= 1
    if extra:
        last = playlists["ep_audio"].split("#EXTINF:")[-1]
        assert float(last.split(",")[0]) < 0.5, last
    uris["ep_audio"] = uris["ep_audio"][:len(seqs["ep_360p"])]
    assert len(seqs["ep_360p"]) >= 10
    for hi, lo, audio in zip(uris["ep_360p"], uris["ep_180p"], uris["ep_audio"], strict=True):
        a, b = first_pts(www / hi, "v:0"), first_pts(www / lo, "v:0")
        assert abs(a - b) <= FRAME + 1e-3, (hi, a, lo, b)
        c = first_pts(www / audio, "a:0")
        assert abs(a - c) <= 0.4, (hi, a, audio, c)

    variants = check_master((www / "live.m3u8").read_text(), lambda u: (www / u).is_file())
    # the start (video nearest 2 Mbit/s from below) first, other video up, audio-only last
    assert [v["URI"] for v in variants] == ["live_ep_360p.m3u8", "live_ep_180p.m3u8",
                                            "live_ep_audio.m3u8"]
    by_uri = {v["URI"]: v for v in variants}
    audio = by_uri["live_ep_audio.m3u8"]
    assert audio["CODECS"].strip('"') == "mp4a.40.2" and "RESOLUTION" not in audio
    video = by_uri["live_ep_360p.m3u8"]
    assert video["RESOLUTION"] == "320x180" and float(video["FRAME-RATE"]) == 25.0
    assert video["CODECS"].strip('"').startswith("avc1.")
    assert int(video["AVERAGE-BANDWIDTH"]) <= int(video["BANDWIDTH"])
    probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "program=program_id",
                            "-of", "csv=p=0", str(www / "live.m3u8")],
                           capture_output=True, text=True, timeout=60)
    assert probe.returncode == 0 and len(probe.stdout.split()) == 3, probe.stderr


def test_fanout_one_rung_killed_leaves_the_others_untouched(tmp_path: Path) -> None:
    """1. source_command: one live test-pattern reader fanned out to three encoders
    2. kill -9 one rung's encoder while streaming
    3. the other rungs' playlists keep contiguous sequence numbers and no DISCONTINUITY;
       the killed rung comes back with a DISCONTINUITY; every poll obeys RFC 8216
    4. the encoders keep the source's clock (-copyts), so the restarted rung rejoins the
       ladder's grid: after its first, partial segment, each of its segments has the
       same number and starts at the same PTS (within a frame) as the other video rung's
    """
    www = tmp_path / "www"
    # A contribution feed with a fixed 1 s GOP; the rungs keep its clock (-copyts) and
    # its keyframes (-force_key_frames source), which is what lets a restarted rung
    # land exactly on the ladder's grid again.
    source_cmd = ("ffmpeg -v error -re -f lavfi -i testsrc2=size=320x180:rate=25 "
                  "-re -f lavfi -i sine=frequency=440:sample_rate=48000 "
                  "-c:v mpeg2video -q:v 5 -g 25 -bf 0 -c:a mp2 -f mpegts -")
    config = write_config(
        tmp_path / "fan.yaml", temp_dir=str(tmp_path / "work"), input_location="lavfi",
        source_command=source_cmd, live=True, segment_length=1, index_segment_count=6,
        log_level="DEBUG", encoder_mode="per_rung",
        encoding_profile=["ep_360p", "ep_180p", "ep_audio"], transfer_profile="local",
        local={"transfer_type": "copy", "directory": str(www)},
        **ladder_profiles(out="-copyts -force_key_frames source"))
    watchers = {r: MediaPlaylistWatcher(r) for r in ("ep_360p", "ep_180p", "ep_audio")}
    seen: dict[str, set[int]] = {r: set() for r in watchers}
    with running(config, tmp_path / "hlsd.log") as proc:
        def poll() -> None:
            for rung, watcher in watchers.items():
                text = read(www / f"live_{rung}.m3u8")
                if text:
                    watcher.check(text, lambda u: (www / u).is_file())
                    seen[rung].update(seq_of(u) for u in segment_uris(text))

        wait_for(lambda: (poll(), all(len(s) >= 3 for s in seen.values()))[1], 60,
                 "three segments on every rung")
        victim = encoder_of(proc.pid, "160x90")
        os.kill(victim, signal.SIGKILL)
        killed_at = max(seen["ep_180p"])
        deadline = time.monotonic() + 12
        while time.monotonic() < deadline:
            assert proc.poll() is None
            poll()
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    for rung in ("ep_360p", "ep_audio"):
        got = sorted(seen[rung])
        assert got == list(range(got[0], got[-1] + 1)), (rung, got)
        assert got[-1] >= killed_at + 8, (rung, got)
        assert "#EXT-X-DISCONTINUITY\n" not in (www / f"live_{rung}.m3u8").read_text()
    after = [s for s in seen["ep_180p"] if s > killed_at]
    assert after, "the killed rung never came back"
    log = (tmp_path / "hlsd.log").read_text()
    assert "encoder pipeline ended; restarting" in log
    assert "Traceback" not in log
    starts: dict[str, dict[int, int]] = {"ep_360p": {}, "ep_180p": {}}
    rejoined: list[int] = []
    for line in log.splitlines():
        event = json.loads(line) if line.startswith("{") else {}
        if event.get("event") == "segment" and event["rung"] in starts:
            starts[event["rung"]][event["seq"]] = event["pts"]
            if event["rung"] == "ep_180p" and event["seq"] > killed_at:
                rejoined.append(event["seq"])
    assert len(rejoined) >= 3, rejoined
    for seq in rejoined[1:]:  # the first one after the restart is partial
        if seq in starts["ep_360p"]:
            assert abs(starts["ep_180p"][seq] - starts["ep_360p"][seq]) <= 90000 * FRAME, \
                (seq, starts["ep_180p"][seq], starts["ep_360p"][seq])


def encoder_of(daemon_pid: int, size_hint: str) -> int:
    """The ffmpeg whose command line scales to the given size (e.g. '160x90')."""
    for pid in descendants(daemon_pid):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if cmd and cmd[0].endswith(b"ffmpeg") and b"-s" in cmd and b"pipe:0" in cmd and \
                cmd[cmd.index(b"-s") + 1].decode().startswith(size_hint[:3]):
            return pid
    raise AssertionError(f"no encoder for {size_hint}")
