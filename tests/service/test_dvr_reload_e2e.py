"""A reload (SIGHUP) that shortens dvr_window: the running daemon keeps the new window,
the spans shrink to it and what left it is deleted."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.daemon_util import lavfi_command, running, wait_for, write_config
from tests.serve.test_playback import origin_url
from tests.serve.test_timeshift_e2e import get, playlist

pytestmark = pytest.mark.e2e


def test_a_shorter_window_applies_at_once(tmp_path: Path) -> None:
    """1. 1 s segments, dvr_window 20, until over 12 s are kept. 2. dvr_window 6 and SIGHUP.
    3. The whole window's span soon lasts at most 6 s + a segment, its former first
    segment is deleted, and the log says the window changed."""
    www = tmp_path / "www"

    def config(window: int) -> Path:
        return write_config(
            tmp_path / "dvr.yaml", temp_dir=str(tmp_path / "work"), input_location="lavfi",
            live=True, segment_length=1, index_segment_count=3, dvr_window=window,
            encoding_profile="ep", transfer_profile="www",
            www={"transfer_type": "copy", "directory": str(www)},
            http={"listen": "127.0.0.1", "port": 0},
            ep={"ffmpeg_command": lavfi_command(rate=25, extra="-g 25")})

    log = tmp_path / "hlsd.log"
    with running(config(20), log) as proc:
        base = wait_for(lambda: origin_url(log), 30, "the origin")
        whole = f"{base}live_ep.m3u8?start=now-3600"
        # Media held, not wall time since the first date: on a loaded machine the encoder
        # may run behind real time (18 s of dates once held 10 s of media).
        before = wait_for(lambda: get(whole)[0] == 200 and (p := playlist(whole)) and sum(
            e.duration for e in p.entries) > 12 and p, 60, "over 12 s kept")
        config(6)
        proc.send_signal(signal.SIGHUP)
        after = wait_for(lambda: (p := playlist(whole)) and sum(
            e.duration for e in p.entries) <= 7.5 and p, 20, "the window down to 6 s")
        assert after.entries[-1].seq > before.entries[-1].seq
        wait_for(lambda: not (www / before.entries[0].name).exists(), 20,
                 f"{before.entries[0].name} deleted")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    assert "dvr_window changed" in log.read_text()
