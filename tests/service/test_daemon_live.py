"""Live streaming end to end: RFC rules at every poll, encoder crash, SIGTERM, restart."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.daemon_util import (
    descendants,
    lavfi_command,
    process_name,
    read,
    running,
    tag,
    wait_for,
    write_config,
)
from tests.hlscheck import MediaPlaylistWatcher, check_master

pytestmark = pytest.mark.e2e


def live_config(tmp_path: Path) -> Path:
    return write_config(
        tmp_path / "live.yaml", temp_dir=str(tmp_path / "work"), input_location="lavfi",
        live=True, segment_length=2, index_segment_count=4, encoding_profile="ep_live",
        transfer_profile="local", ep_live={"ffmpeg_command": lavfi_command()},
        local={"transfer_type": "copy", "directory": str(tmp_path / "www")})


def sequences(text: str) -> list[int]:
    return [int(line.rsplit("-", 1)[1].split(".")[0]) for line in text.splitlines()
            if line.endswith(".ts")]


def test_live_run_keeps_every_rule_survives_encoder_kill_and_stops_cleanly(
        tmp_path: Path) -> None:
    """1. start a live lavfi rung (2 s segments, window 4) with `hlsd run`
    2. poll the variant playlist every 0.25 s and check every RFC 8216 rule at every poll,
       including that every listed segment exists, for ~30 s
    3. midway, kill -9 the encoder: the pipeline restarts and the next segment carries
       EXT-X-DISCONTINUITY
    4. SIGTERM: exit 0, no ENDLIST (live), old segments deleted after their grace time
    """
    www = tmp_path / "www"
    variant_path = www / "live_ep_live.m3u8"
    watcher = MediaPlaylistWatcher("live")
    with running(live_config(tmp_path), tmp_path / "hlsd.log") as proc:
        start = time.monotonic()
        killed = False
        seen: set[int] = set()
        while time.monotonic() - start < 30:
            assert proc.poll() is None, (tmp_path / "hlsd.log").read_text()[-3000:]
            text = read(variant_path)
            if text:
                watcher.check(text, lambda uri: (www / uri).is_file())
                seen.update(sequences(text))
                if not killed and len(seen) >= 4:
                    encoders = [p for p in descendants(proc.pid) if process_name(p) == "ffmpeg"]
                    assert len(encoders) == 1
                    os.kill(encoders[0], signal.SIGKILL)
                    killed = True
            time.sleep(0.25)
        assert killed, "no segments within 30 s"
        master = read(www / "live.m3u8")
        assert master is not None
        check_master(master, lambda uri: (www / uri).is_file())
        text = read(variant_path)
        assert (text is not None and "#EXT-X-DISCONTINUITY\n" in text) or \
            int(tag(text or "", "#EXT-X-DISCONTINUITY-SEQUENCE") or 0) > 0
        assert "#EXT-X-PROGRAM-DATE-TIME:" in (text or "")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    final = variant_path.read_text()
    assert "#EXT-X-ENDLIST" not in final
    assert len(seen) >= 10
    # Retention: the earliest segments left the window long ago and are gone.
    assert not (www / f"live_ep_live-{min(seen):05d}.ts").exists()
    assert not [p for p in descendants(os.getpid()) if process_name(p) == "ffmpeg"]


def test_restart_continues_numbering_with_a_discontinuity(tmp_path: Path) -> None:
    """1. run live until a few segments are published, SIGTERM
    2. run again on the same temp_dir: the media sequence continues (never back), no file
       name is reused, and the join carries EXT-X-DISCONTINUITY
    """
    config = live_config(tmp_path)
    variant_path = tmp_path / "www" / "live_ep_live.m3u8"
    with running(config, tmp_path / "hlsd1.log") as proc:
        wait_for(lambda: len(sequences(read(variant_path) or "")) >= 3, 40, "3 segments")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    first = variant_path.read_text()
    last_seq = max(sequences(first))
    # The segment finished at the stop is stored and named: the last segment is never lost.
    stored = [int(p.stem.rsplit("-", 1)[1]) for p in (tmp_path / "www").glob("*.ts")]
    assert max(stored) == last_seq, first
    first_msn = int(tag(first, "#EXT-X-MEDIA-SEQUENCE") or "missing")
    watcher = MediaPlaylistWatcher("restart")
    watcher.check(first, lambda uri: (tmp_path / "www" / uri).is_file())
    with running(config, tmp_path / "hlsd2.log") as proc:
        text = wait_for(lambda: (t := read(variant_path)) and max(sequences(t)) > last_seq
                        and t, 40, "a segment after the restart")
        watcher.check(text, lambda uri: (tmp_path / "www" / uri).is_file())
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    assert int(tag(text, "#EXT-X-MEDIA-SEQUENCE") or "missing") >= first_msn
    lines = text.splitlines()
    join = next(i for i, line in enumerate(lines)
                if line.endswith(".ts") and int(line.rsplit("-", 1)[1][:-3]) == last_seq + 1)
    assert "#EXT-X-DISCONTINUITY" in lines[max(0, join - 4):join], text


def test_hlsd_check_redacts_and_reports_ffmpeg(tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "c.yaml", temp_dir=str(tmp_path / "w"),
        input_location="rtmp://cam:s3cret-pw@127.0.0.1/live", encoding_profile="e",
        transfer_profile="t", e={"ffmpeg_command": "ffmpeg -i %s -c:v libx264 -f mpegts -"},
        t={"transfer_type": "ftp", "remote_host": "127.0.0.1", "user_name": "u",
           "password": "ftp-s3cret"})
    from tests.daemon_util import hlsd_argv

    out = subprocess.run(hlsd_argv("check", str(config)), capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "s3cret" not in out.stdout + out.stderr
    assert "ffmpeg" in out.stdout and "force_key_frames" in out.stdout
    bad = write_config(tmp_path / "bad.yaml", temp_dir=1, segment_lenght=3)
    out = subprocess.run(hlsd_argv("check", str(bad)), capture_output=True, text=True)
    assert out.returncode == 2 and "segment_lenght" in out.stderr
    assert "Traceback" not in out.stderr


def test_reload_in_shared_mode_restarts_the_ladder_as_one(tmp_path: Path) -> None:
    """1. two rungs with the same input: `encoder_mode: auto` runs one shared encoder
    2. change one rung's bitrate and SIGHUP
    3. the shared encoder restarts as a whole: both rungs continue, both with a
       DISCONTINUITY at the join, numbering never going back; RFC rules at every poll
    """
    www = tmp_path / "www"
    source = "ffmpeg -re -f lavfi -i testsrc2=size=320x180:rate=25"

    def config(rate: str) -> Path:
        return write_config(
            tmp_path / "shared.yaml", temp_dir=str(tmp_path / "work"), input_location="lavfi",
            live=True, segment_length=1, index_segment_count=6,
            encoding_profile=["a", "b"], transfer_profile="local",
            a={"ffmpeg_command": f"{source} -c:v libx264 -preset ultrafast -b:v 300k "
                                 "-f mpegts -"},
            b={"ffmpeg_command": f"{source} -s 160x90 -c:v libx264 -preset ultrafast "
                                 f"-b:v {rate} -f mpegts -"},
            local={"transfer_type": "copy", "directory": str(www)})

    watchers = {r: MediaPlaylistWatcher(r) for r in ("a", "b")}

    def newest(rung: str) -> int:
        text = read(www / f"live_{rung}.m3u8") or ""
        if text:
            watchers[rung].check(text, lambda uri: (www / uri).is_file())
        return max(sequences(text), default=-1)

    with running(config("100k"), tmp_path / "hlsd.log") as proc:
        wait_for(lambda: min(newest("a"), newest("b")) >= 2, 40, "segments on both rungs")
        before = max(newest("a"), newest("b"))
        config("150k")
        proc.send_signal(signal.SIGHUP)
        wait_for(lambda: min(newest("a"), newest("b")) >= before + 3, 40,
                 "both rungs after the reload")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    log = (tmp_path / "hlsd.log").read_text()
    assert '"rung": "ladder"' in log and "config reloaded" in log
    for rung in ("a", "b"):  # the join is marked (and may have left the window since)
        text = (www / f"live_{rung}.m3u8").read_text()
        assert "#EXT-X-DISCONTINUITY\n" in text or \
            int(tag(text, "#EXT-X-DISCONTINUITY-SEQUENCE") or 0) > 0, text
