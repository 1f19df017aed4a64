"""Scenario 1: the live input disappears for 20 s and comes back."""

from __future__ import annotations

import random
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.daemon_util import FAST_X264, wait_for
from tests.faults.conftest import UdpSender
from tests.faults.harness import (
    SEGMENT,
    Hlsd,
    copy_profile,
    fault_config,
    free_port,
    observe,
    warnings_about,
)
from tests.faults.watcher import Watcher, directory_store

pytestmark = [pytest.mark.faults, pytest.mark.e2e]

OUTAGE = 20.0  # seconds without input
RUNG = "cam"
# An operator's live UDP encoder, as operators write it: no probe flags (hlsd's input
# reader adds its own; the encoder reads the reader's pipe).
UDP_ENCODER = f"ffmpeg -i %s {FAST_X264} -b:v 300k -an -f mpegts -"
# Re-streaming without re-encoding, as in etc/restream.yaml.
COPY_ENCODER = "ffmpeg -i %s -c copy -f mpegts -"
POLL_SLACK = 0.25  # the watcher lists a new segment up to one poll late
SENDER_STARTUP = 0.5  # the sender's own ffmpeg start-up before its first packet


def outage(tmp_path: Path, daemons: Callable[..., Hlsd], udp_sender: Callable[[int], UdpSender],
           command: str, outage: float) -> dict[str, Any]:
    """1. a separate ffmpeg sends a live MPEG-TS test pattern over UDP to 127.0.0.1;
       `hlsd run` segments it (one rung `command`, 1 s segments) to a copy destination
    2. after 3 segments, at a random moment, the sender is killed; `outage` s later it is
       started again on the same port
    3. throughout, the RFC 8216 watcher checks the playlists every 0.2 s
    4. hlsd stays up: its ingest stage keeps the input open and logs it lost within
       about a second; no encoder is killed as stalled, nothing waits in a backoff
    5. segments resume within 2 segment lengths of the input's return, behind
       #EXT-X-DISCONTINUITY; no sequence number is skipped or reused; few log lines
    6. SIGTERM: exit 0
    """
    rng = random.Random(1)
    port = free_port(socket.SOCK_DGRAM)
    sender = udp_sender(port)
    www = tmp_path / "www"
    config = fault_config(
        tmp_path / "hlsd.yaml", tmp_path, {RUNG: command}, {"www": copy_profile(www)},
        input_location=f"{sender.url}?overrun_nonfatal=1&fifo_size=50000")
    hlsd = daemons(config, tmp_path / "hlsd.log").start()

    with Watcher([directory_store("www", www)], [RUNG]) as watcher:
        track = watcher.track("www", RUNG)

        def healthy() -> None:
            hlsd.alive()
            watcher.check()

        first = watcher.wait_segments("www", RUNG, 1, timeout=40, alive=hlsd.alive)
        startup = first.at - hlsd.events(event="encoder started")[0]["at"]
        watcher.wait_segments("www", RUNG, 3, timeout=20, alive=hlsd.alive)

        observe(rng.uniform(0, SEGMENT), healthy)  # a random moment within a segment
        sender.stop()
        down_at = time.monotonic()
        last_before = track.newest
        lost = hlsd.wait_event(10, "the input lost", since=down_at, event="input switched",
                               on_air="lost")
        observe(outage, healthy)
        sender.start()
        back_at = time.monotonic()

        def joined() -> object:
            healthy()
            return track.first_after(back_at, discontinuity=True)

        wait_for(joined, 60, "segments after the input's return")
        join = track.first_after(back_at, discontinuity=True)
        assert join is not None
        watcher.wait_segments("www", RUNG, 3, after=join.at - 0.001, timeout=20,
                              alive=hlsd.alive)
        code = hlsd.stop()
        watcher.poll()
    watcher.check()
    assert code == 0, hlsd.tail()

    events = hlsd.events(down_at, join.at)
    about_rung = [e for e in events if e.get("rung") == RUNG]
    resume = join.at - back_at
    assert track.first_after(back_at) is join, "a segment without DISCONTINUITY at the join"
    assert join.seq > last_before
    assert not track.gaps, f"sequence numbers skipped: {track.gaps}"
    # Lost means a switch, never a stall: no encoder killed, nothing in a backoff.
    assert not [e for e in events if e["event"] == "encoder pipeline ended; restarting"]
    assert not warnings_about(events, rung=RUNG), [e["event"] for e in about_rung]
    assert len(about_rung) <= 8, [e["event"] for e in about_rung]
    assert resume <= 2 * SEGMENT + SENDER_STARTUP + POLL_SLACK, resume
    return {"outage": outage, "first_startup": startup,
            "loss_noticed": lost["at"] - down_at, "resume": resume,
            "goal": 2 * SEGMENT, "log_lines": len(about_rung), "segments": len(track.order),
            "gaps": len(track.gaps)}


def test_input_disappears_and_comes_back(
        tmp_path: Path, daemons: Callable[..., Hlsd], udp_sender: Callable[[int], UdpSender],
        report: Callable[..., None]) -> None:
    """A re-encoding rung; its input gone for 20 s (see `outage`)."""
    report("input outage", **outage(tmp_path, daemons, udp_sender, UDP_ENCODER, OUTAGE))


def test_restreaming_copy_command_input_back_fast(
        tmp_path: Path, daemons: Callable[..., Hlsd], udp_sender: Callable[[int], UdpSender],
        report: Callable[..., None]) -> None:
    """The plain re-streaming command (`-i %s -c copy`, no probe flags), its input gone
    for 8 s: published again within 2 segments of the input's return (it was 8.8 s, the
    restarted ffmpeg's default 5 s probe of the returning stream plus the restart)."""
    report("input outage, -c copy", **outage(tmp_path, daemons, udp_sender, COPY_ENCODER, 8.0))
