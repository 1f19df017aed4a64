"""An ad break across a restart: the daemon stopped (SIGTERM) inside an operator's break
and started again still marks the break's return on every rung (the break is state)."""

from __future__ import annotations

import signal
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from hlsd.media.parse import parse_media
from tests.daemon_util import read, running, wait_for, write_config
from tests.service.test_control_e2e import RUNGS, SOURCE, cue, last_seq, ranges

pytestmark = pytest.mark.e2e

LENGTH = 1  # segment_length
BREAK = 8  # seconds


def test_a_break_open_at_a_restart_returns_after_it(tmp_path: Path) -> None:
    """1. `hlsd run`: a live ladder (video, audio-only; 1 s segments)
    2. `hlsd cue --duration 8 --id across`: the break opens; SIGTERM at once: exit 0
    3. `hlsd run` again: every rung lists `across` again with END-DATE and DURATION, on a
       segment of the new run, at or after START-DATE + 8 s; when the new run's first
       segment came before that, on the first boundary at or after it (within a segment)"""
    www, log = tmp_path / "www", tmp_path / "hlsd.log"
    config = write_config(
        tmp_path / "hlsd.yaml", temp_dir=str(tmp_path / "work"), input_location="lavfi",
        live=True, segment_length=LENGTH, index_segment_count=30, encoder_mode="shared",
        encoding_profile=list(RUNGS), transfer_profile="www",
        www={"transfer_type": "copy", "directory": str(www)},
        **{name: {"ffmpeg_command": f"{SOURCE} {opts} -f mpegts -"}
           for name, opts in RUNGS.items()})
    playlists = {rung: www / f"live_{rung}.m3u8" for rung in RUNGS}
    with running(config, log) as proc:
        wait_for(lambda: all(last_seq(read(p)) >= 0 for p in playlists.values()), 30,
                 "a segment per rung")
        done = cue(config, "--duration", str(BREAK), "--id", "across")
        assert done.returncode == 0, done.stderr
        start = datetime.fromisoformat(done.stdout.split("START-DATE=")[1].strip())
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    last = {rung: last_seq(read(p)) for rung, p in playlists.items()}
    with running(config, log) as proc:
        for rung, playlist in playlists.items():
            text = wait_for(lambda p=playlist: (t := read(p)) and len(ranges(t, "across")) == 2
                            and t, 40, f"the break's return in {rung} after the restart")
            (out, _), (back, back_pdt) = ranges(text, "across")
            assert out.start == back.start == start, rung
            assert back.end == back_pdt and back.end >= start + timedelta(seconds=BREAK - 0.05)
            assert back.duration == pytest.approx((back.end - start).total_seconds())
            entries = parse_media(text).entries
            returned = next(e.seq for e in entries if e.program_date_time == back_pdt)
            first = next(e for e in entries if e.seq > last[rung])  # the new run's first
            assert returned > last[rung], rung
            assert first.program_date_time is not None
            if first.program_date_time < start + timedelta(seconds=BREAK):
                assert back.end < start + timedelta(seconds=BREAK + LENGTH + 0.1), rung
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
