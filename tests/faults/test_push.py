"""Push ingest: SRT and RTMP listener inputs, their publishers coming and going."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest

from tests.faults.harness import (
    SEGMENT,
    Hlsd,
    copy_profile,
    fault_config,
    free_port,
    warnings_about,
)
from tests.faults.senders import Look, Publisher
from tests.faults.test_continuity import (
    AFTER,
    GOAL,
    POLL_SLACK,
    RUNG,
    Switches,
    continuity_config,
    healthz,
    origin,
)
from tests.faults.watcher import Watcher, directory_store

pytestmark = [pytest.mark.faults, pytest.mark.e2e]

PASSPHRASE = "correct-horse-battery"
CAMERA = Look("320x240", "testsrc2", 440)
LOOKS = {"primary": CAMERA}
# SRT's own timeout: a SIGKILLed publisher's connection is dropped after this long
# without a packet (libsrt's peer idle timeout, 5 s by default).
SRT_PEER_TIMEOUT = 5.0
# Returns are timed from the publisher's start: its own ffmpeg start-up and handshake
# come before its first packet reaches hlsd.
PUBLISHER_STARTUP = 0.5
RETURN_GOAL = 2 * SEGMENT + PUBLISHER_STARTUP + POLL_SLACK


def srt_listener(port: int) -> str:
    return f"srt://127.0.0.1:{port}?mode=listener&passphrase={PASSPHRASE}"


def srt_caller(port: int, passphrase: str = PASSPHRASE) -> str:
    # connect_timeout (ms): a publisher that finds the listener busy tries again soon
    return f"srt://127.0.0.1:{port}?passphrase={passphrase}&connect_timeout=500"


def come_and_go(s: Switches, camera: Publisher, figures: dict[str, float]) -> None:
    """The publisher starts (on air), leaves saying goodbye (the slate), comes back."""
    s.switch(partial(camera.start, keep=True), "primary", figures, "first_publish")
    s.switch(partial(camera.stop, kill=False), "slate", figures, "left_slate")
    s.switch(partial(camera.start, keep=True), "primary", figures, "returned")


def test_srt_push_wrong_passphrase_leave_return_kill_replace(
        tmp_path: Path, daemons: Callable[..., Hlsd],
        report: Callable[..., None]) -> None:
    """1. `hlsd run` with an SRT listener input (passphrase) and input_loss: with no
       publisher yet the stream starts on the slate; /healthz 200
    2. a publisher with a wrong passphrase for 3 s: nothing of it is published
    3. the right publisher: its segments within 2 segments of its start (+ its own
       start-up, + the watcher's poll), behind #EXT-X-DISCONTINUITY
    4. it leaves (SIGTERM: closes the connection): slate within after + 2 segments;
       it returns: on air within the same bound as 3
    5. it is SIGKILLed (no goodbye) and a replacement keeps trying to connect: slate
       within after + 2 segments, the replacement on air within SRT's own timeout + 2
       segments; the listener was never closed behind a backoff (re-opened at once)
    6. 0 RFC 8216 violations, no sequence number skipped; SIGTERM exits 0
    """
    port = free_port(socket.SOCK_DGRAM)
    www = tmp_path / "www"
    config = continuity_config(tmp_path, srt_listener(port), input_loss={"after": AFTER})
    hlsd = daemons(config, tmp_path / "hlsd.log").start()
    figures: dict[str, float] = {}
    camera = Publisher(srt_caller(port), CAMERA, tmp_path / "camera.log")
    with Watcher([directory_store("www", www)], [RUNG]) as watcher:
        s = Switches(watcher, hlsd, www)
        url = origin(hlsd)
        first = s.join_after(0.0, first=True)
        assert s.source(first) == "slate"
        status, body = healthz(url)
        assert status == 200 and body["input"]["on_air"] == "slate", body
        assert body["input"]["inputs"][0]["listener"] is True
        assert PASSPHRASE not in str(body) and PASSPHRASE not in hlsd.tail(10**6)

        intruder = Publisher(srt_caller(port, "not-the-passphrase"), Look("160x120"),
                             tmp_path / "intruder.log").start(keep=True)
        tried = time.monotonic()
        s.settle(tried)
        intruder.stop()
        assert intruder.runs >= 1
        assert all(s.source(x) == "slate" for x in s.track.order if x.at > tried)
        come_and_go(s, camera, figures)

        camera.stop(kill=True)  # SIGKILL: SRT notices only by its timeout
        killed = time.monotonic()
        replacement = Publisher(srt_caller(port), CAMERA, tmp_path / "replacement.log")
        replacement.start(keep=True)
        try:
            slate = s.join_after(killed)
            assert s.source(slate) == "slate"
            figures["killed_slate"] = slate.at - killed
            replaced = s.join_after(slate.at)
            assert s.source(replaced) == "primary"
            figures["replaced"] = replaced.at - killed
            s.settle(replaced.at)
        finally:
            replacement.stop()
        code = hlsd.stop()
        watcher.poll()
    watcher.check()
    assert code == 0, hlsd.tail()
    report("SRT push", segment=SEGMENT, after=AFTER, **figures)
    assert figures["first_publish"] <= RETURN_GOAL
    assert figures["returned"] <= RETURN_GOAL
    assert figures["left_slate"] <= GOAL + POLL_SLACK
    assert figures["killed_slate"] <= GOAL + POLL_SLACK
    assert figures["replaced"] <= SRT_PEER_TIMEOUT + 2 * SEGMENT + 1.0 + POLL_SLACK
    assert not s.track.gaps, s.track.gaps
    # the listener is opened again at once each time its publisher goes
    opened = hlsd.events(event="input reader started", input="primary")
    ended = hlsd.events(event="input reader ended; reopening", input="primary")
    assert len(opened) >= 3 and all(e["delay"] == 0.0 for e in ended), ended


def test_a_listener_waiting_for_its_publisher_is_healthy(
        tmp_path: Path, daemons: Callable[..., Hlsd]) -> None:
    """1. `hlsd run` (systemd notify socket, WatchdogSec=4) with an SRT listener input
       and no input_loss: no publisher for 25 s (the stall guard used to kill such a
       channel every 21 s, and its watchdog pings stopped)
    2. meanwhile: /healthz 200 "waiting", WATCHDOG=1 keeps coming, no encoder killed or
       restarted, no warning
    3. a publisher connects: its segments are published within 2 segments of its start
       (+ its own start-up, + the watcher's poll)
    """
    port = free_port(socket.SOCK_DGRAM)
    www = tmp_path / "www"
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify"))
    notify.settimeout(0.5)
    pings: list[float] = []
    done = threading.Event()

    def listen() -> None:
        while not done.is_set():
            try:
                data = notify.recv(4096)
            except TimeoutError:
                continue
            if b"WATCHDOG=1" in data:
                pings.append(time.monotonic())

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    config = continuity_config(tmp_path, srt_listener(port))
    hlsd = daemons(config, tmp_path / "hlsd.log", env={
        "NOTIFY_SOCKET": str(tmp_path / "notify"), "WATCHDOG_USEC": "4000000"}).start()
    camera = Publisher(srt_caller(port), CAMERA, tmp_path / "camera.log")
    try:
        url = origin(hlsd)
        began = time.monotonic()
        while time.monotonic() - began < 25:
            hlsd.alive()
            status, body = healthz(url)
            assert status == 200 and body["status"] == "waiting", body
            time.sleep(1.0)
        assert pings and time.monotonic() - pings[-1] < 3.0, pings[-3:]
        events = hlsd.events(began)
        assert not warnings_about(events), [e["event"] for e in warnings_about(events)]
        # The first start may be logged after the origin's (and so after `began`);
        # no later attempt may follow it.
        assert not [e for e in hlsd.events() if e["event"] == "encoder started"
                    and e["attempt"] > 1]

        with Watcher([directory_store("www", www)], [RUNG]) as watcher:
            camera.start(keep=True)
            started = time.monotonic()
            s = Switches(watcher, hlsd, www)
            first = s.join_after(0.0, first=True)
            assert s.source(first) == "primary"
            assert first.at - started <= RETURN_GOAL, first.at - started
        assert hlsd.stop() == 0
    finally:
        camera.stop()
        done.set()
        thread.join(5)
        notify.close()


def test_rtmp_push_leave_and_return(tmp_path: Path, daemons: Callable[..., Hlsd],
                                    report: Callable[..., None]) -> None:
    """1. an RTMP listener input (`-listen 1` among the command's input options, which
       go to the input's reader), input_loss: the slate until a publisher comes
    2. a publisher with the wrong stream key is refused: nothing of it published, the key
       never logged
    3. an ffmpeg publisher pushes FLV: on air; it leaves; slate within after + 2
       segments; it returns: on air again (the listener was re-opened at once)
    """
    port = free_port()
    www = tmp_path / "www"
    url = f"rtmp://127.0.0.1:{port}/live/cam"
    command = ("ffmpeg -listen 1 -i %s -c:v libx264 -preset ultrafast -tune zerolatency "
               "-b:v 300k -c:a aac -b:a 64k -f mpegts -")
    config = fault_config(tmp_path / "hlsd.yaml", tmp_path, {RUNG: command},
                          {"www": copy_profile(www)}, input_location=url,
                          input_loss={"after": AFTER})
    hlsd = daemons(config, tmp_path / "hlsd.log").start()
    camera = Publisher(url, CAMERA, tmp_path / "camera.log", fmt="flv")
    figures: dict[str, float] = {}
    try:
        with Watcher([directory_store("www", www)], [RUNG]) as watcher:
            s = Switches(watcher, hlsd, www)
            assert s.source(s.join_after(0.0, first=True)) == "slate"
            intruder = Publisher(url.replace("/live/cam", "/live/guess"), Look("160x120"),
                                 tmp_path / "intruder.log", fmt="flv").start(keep=True)
            tried = time.monotonic()
            s.settle(tried)
            intruder.stop()
            assert all(s.source(x) == "slate" for x in s.track.order if x.at > tried)
            assert hlsd.events(event="publisher refused: wrong stream key")
            assert "/live/cam" not in hlsd.tail(10**6)  # the stream key is never logged
            come_and_go(s, camera, figures)
            code = hlsd.stop()
            watcher.poll()
        watcher.check()
    finally:
        camera.stop()
    assert code == 0, hlsd.tail()
    report("RTMP push", segment=SEGMENT, after=AFTER, **figures)
    assert figures["first_publish"] <= RETURN_GOAL
    assert figures["returned"] <= RETURN_GOAL
    assert figures["left_slate"] <= GOAL + POLL_SLACK
    assert not s.track.gaps
