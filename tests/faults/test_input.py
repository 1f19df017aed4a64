"""Scenario 1: the live input disappears for 20 s and comes back."""

from __future__ import annotations

import random
import socket
import time
from collections.abc import Callable
from pathlib import Path

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
# An operator's live UDP encoder: small probe so a (re)started ffmpeg starts quickly.
UDP_ENCODER = (f"ffmpeg -probesize 32768 -analyzeduration 500000 -i %s {FAST_X264} "
               "-b:v 300k -an -f mpegts -")


def test_input_disappears_and_comes_back(
        tmp_path: Path, daemons: Callable[..., Hlsd], udp_sender: Callable[[int], UdpSender],
        report: Callable[..., None]) -> None:
    """1. a separate ffmpeg sends a live MPEG-TS test pattern over UDP to 127.0.0.1;
       `hlsd run` encodes it (one rung, 1 s segments) to a copy destination
    2. after 3 segments, at a random moment, the sender is killed; 20 s later it is
       started again on the same port
    3. throughout, the RFC 8216 watcher checks the playlists every 0.2 s
    4. hlsd stays up; its stall detector restarts the encoder that waits for input; it
       logs at most one warning per restart attempt, and few lines overall
    5. segments resume after the input's return within 2 segment lengths plus the
       encoder's start-up (measured at the first start) plus the backoff the daemon
       was in at that moment; the join carries #EXT-X-DISCONTINUITY; no sequence number
       is skipped or reused
    6. SIGTERM: exit 0
    """
    rng = random.Random(1)
    port = free_port(socket.SOCK_DGRAM)
    sender = udp_sender(port)
    www = tmp_path / "www"
    config = fault_config(
        tmp_path / "hlsd.yaml", tmp_path, {RUNG: UDP_ENCODER}, {"www": copy_profile(www)},
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
        observe(OUTAGE, healthy)
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
    starts = [e for e in events if e["event"] == "encoder started"]
    # a restart announced just before the join (the encoder waiting for the input killed
    # as it came back) starts just after it
    announced = [e for e in hlsd.events(down_at, join.at + 5)
                 if e["event"] == "encoder started"]
    restarts = [e for e in events if e["event"] == "encoder pipeline ended; restarting"]
    warnings = warnings_about(events, rung=RUNG)
    about_rung = [e for e in events if e.get("rung") == RUNG]
    producing = [e for e in hlsd.events(until=join.at) if e["event"] == "encoder started"][-1]
    waited_for_restart = max(0.0, producing["at"] - back_at)
    encoder_startup = join.at - max(producing["at"], back_at)
    resume = join.at - back_at
    report("input outage", outage=OUTAGE, first_startup=startup,
           stall_detected=restarts[0]["at"] - down_at if restarts else None,
           attempts=len(starts), restart_delays=[e.get("delay") for e in restarts],
           resume=resume, waited_for_restart=waited_for_restart,
           encoder_startup=encoder_startup, goal=2 * SEGMENT + startup,
           log_lines=len(about_rung), warnings=len(warnings), segments=len(track.order),
           gaps=len(track.gaps))

    assert track.first_after(back_at) is join, "a segment without DISCONTINUITY at the join"
    assert join.seq > last_before
    assert not track.gaps, f"sequence numbers skipped: {track.gaps}"
    assert starts, "the encoder waiting for input was never restarted"
    # Not a flood: at most one warning per restart attempt, and a few lines in all.
    assert len(warnings) <= len(announced), [e["event"] for e in warnings]
    assert len(about_rung) <= 4 * len(starts) + 4, [e["event"] for e in about_rung]
    # The encoder that picks up the returned input produces within 2 segment lengths
    # of its start-up; before that, the daemon may only have been in its backoff.
    assert encoder_startup <= startup + 2 * SEGMENT + 0.5, encoder_startup
    if waited_for_restart > 0:
        delay = [e for e in hlsd.events(until=producing["at"])
                 if e["event"] == "encoder pipeline ended; restarting"][-1]
        assert producing["at"] - delay["at"] <= delay["delay"] + 0.5
        # At the return, the attempt that was waiting may be killed as stalled before
        # it could produce (its own start-up), then the backoff runs.
        assert waited_for_restart <= startup + 2 * SEGMENT + delay["delay"] + 0.5
