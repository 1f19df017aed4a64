"""Continuity: a live input lost and found again, with a warm backup and a slate, while
hls.js plays; the RFC 8216 watcher checks every playlist throughout."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import socket
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hlsd.config import DEFAULT_HLS_JS
from tests.browser import browser_page, require_browser, wait_for_playback
from tests.daemon_util import FAST_X264, wait_for
from tests.faults.harness import (
    SEGMENT,
    START_SAMPLING,
    Hlsd,
    copy_profile,
    fault_config,
    free_port,
)
from tests.faults.senders import Look, Publisher, decode_errors, probe, segment_source
from tests.faults.watcher import Seen, Watcher, directory_store

pytestmark = [pytest.mark.faults, pytest.mark.e2e]

RUNG = "cam"
AFTER = 1.0  # input_loss.after
# The rung keeps the input's size, so each segment shows which source it came from.
ENCODER = f"ffmpeg -i %s {FAST_X264} -b:v 300k -c:a aac -b:a 64k -f mpegts -"
PRIMARY = Look("320x240", "testsrc2", 440)
BACKUP = Look("240x180", "smptebars", 880)
LOOKS = {"primary": PRIMARY, "backup 1": BACKUP}
GOAL = AFTER + 2 * SEGMENT  # a switch puts the new source on air within this
POLL_SLACK = 0.25  # the watcher sees a new segment up to one poll late
UDP_OPTIONS = "?overrun_nonfatal=1&fifo_size=50000"

def healthz(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url + "healthz", timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def origin(hlsd: Hlsd) -> str:
    return str(hlsd.wait_event(20, "the http origin", event="http origin listening")["url"])


def udp_url(port: int) -> str:
    return f"udp://127.0.0.1:{port}"


def continuity_config(tmp_path: Path, primary: str, **settings: Any) -> Path:
    return fault_config(tmp_path / "hlsd.yaml", tmp_path, {RUNG: ENCODER},
                        {"www": copy_profile(tmp_path / "www")}, input_location=primary,
                        http={"listen": "127.0.0.1", "port": 0}, **settings)


class Switches:
    """What the watcher saw after each fault: the first segment of the new source."""

    def __init__(self, watcher: Watcher, hlsd: Hlsd, www: Path) -> None:
        self.track = watcher.track("www", RUNG)
        self.watcher = watcher
        self.hlsd = hlsd
        self.www = www

    def healthy(self) -> None:
        self.hlsd.alive()
        self.watcher.check()

    def join_after(self, moment: float, timeout: float = 30, first: bool = False) -> Seen:
        """The first segment listed after `moment` behind a discontinuity (`first`: the
        stream's first segment, which needs none)."""
        def joined() -> Seen | None:
            self.healthy()
            return self.track.first_after(moment, discontinuity=not first)

        seen: Seen = wait_for(joined, timeout, "a segment of the new source", interval=0.05)
        return seen

    def switch(self, act: Callable[[], None], expect: str, figures: dict[str, Any],
               figure: str) -> Seen:
        """`act()` (a source stops or starts), then the first segment after it behind a
        discontinuity, which must come from `expect`; its delay is `figures[figure]`.
        Returns once 3 segments of the new source are listed."""
        act()
        moment = time.monotonic()
        seen = self.join_after(moment)
        assert self.source(seen) == expect, figure
        figures[figure] = seen.at - moment
        self.settle(seen.at)
        return seen

    def source(self, seen: Seen) -> str:
        return segment_source(self.www / seen.uri, LOOKS)

    def settle(self, after: float, count: int = 3) -> None:
        self.watcher.wait_segments("www", RUNG, count, after=after, timeout=30,
                                   alive=self.healthy)


@pytest.mark.browser
async def test_backup_then_slate_then_primary_while_hlsjs_plays(
        tmp_path: Path, daemons: Callable[..., Hlsd],
        report: Callable[..., None]) -> None:
    """1. two live UDP senders (primary 320x240 with a 440 Hz tone, backup 240x180 with
       880 Hz); `hlsd run` with backup_inputs and input_loss {after: 1}, 1 s segments, an
       HTTP origin; Chromium plays the master with hls.js
    2. the primary is SIGKILLed: a segment from the backup is listed within after + 2
       segments, behind #EXT-X-DISCONTINUITY
    3. the backup is SIGKILLed too: slate segments (the primary's size, silent, video and
       audio like the rung's own, decoding cleanly) within the same
    4. the primary is started again: its segments within after + 2 segments of its start
    5. throughout: no playlist waits more than 2 segments + 1 s for a new segment, no
       sequence number skipped, 0 RFC 8216 violations; hls.js played through all three
       switches (media time ≥ 75 % of wall time, no fatal error); /healthz said what was
       on air; SIGTERM exits 0
    """
    require_browser()
    ports = free_port(socket.SOCK_DGRAM), free_port(socket.SOCK_DGRAM)
    primary = Publisher(udp_url(ports[0]) + "?pkt_size=1316", PRIMARY, tmp_path / "p.log")
    backup = Publisher(udp_url(ports[1]) + "?pkt_size=1316", BACKUP, tmp_path / "b.log")
    primary.start()
    backup.start()
    www = tmp_path / "www"
    config = continuity_config(
        tmp_path, udp_url(ports[0]) + UDP_OPTIONS,
        backup_inputs=[udp_url(ports[1]) + UDP_OPTIONS], input_loss={"after": AFTER})
    hlsd = daemons(config, tmp_path / "hlsd.log").start()
    figures: dict[str, Any] = {}
    try:
        with Watcher([directory_store("www", www)], [RUNG]) as watcher:
            s = Switches(watcher, hlsd, www)
            url = origin(hlsd)
            await asyncio.to_thread(s.settle, 0.0)
            assert s.source(s.track.order[-1]) == "primary"
            async with browser_page(serve_hlsjs_at=DEFAULT_HLS_JS) as b:
                await b.page.goto(url)
                await wait_for_playback(b.page, seconds=0.5, timeout_ms=30_000)
                await b.page.evaluate(START_SAMPLING)
                began = time.monotonic()

                await asyncio.to_thread(s.switch, primary.stop, "backup 1", figures,
                                        "backup_on_air")
                assert healthz(url)[1]["input"]["on_air"] == "backup 1"
                await asyncio.to_thread(s.switch, backup.stop, "slate", figures,
                                        "slate_on_air")
                made = www / s.track.order[-1].uri  # a whole slate segment
                kinds = sorted(str(x["codec_type"]) for x in probe(made))
                assert kinds == ["audio", "video"], kinds
                assert {(x.get("width"), x.get("height")) for x in probe(made)
                        if x["codec_type"] == "video"} == {(320, 240)}
                assert decode_errors(made) == ""
                status, body = healthz(url)
                assert status == 200 and body["input"]["on_air"] == "slate", body

                await asyncio.to_thread(s.switch, primary.start, "primary", figures,
                                        "primary_back_on_air")
                ended = time.monotonic()
                with urllib.request.urlopen(url + "metrics", timeout=5) as resp:
                    metrics = resp.read().decode()
                samples: list[list[float]] = await b.page.evaluate("window.__samples")
                fatal: list[str] = await b.page.evaluate("window.__fatal")
            code = hlsd.stop()
            watcher.poll()
        watcher.check()
    finally:
        primary.stop()
        backup.stop()
    assert code == 0, hlsd.tail()
    track = watcher.track("www", RUNG)
    longest = track.longest_wait(began, ended)
    wall = samples[-1][0] - samples[0][0]
    played = samples[-1][1] - samples[0][1]
    report("backup, slate, primary back", after=AFTER, segment=SEGMENT, goal=GOAL,
           longest_wait=longest, played_ratio=played / wall, **figures)
    for what, took in figures.items():
        assert took <= GOAL + POLL_SLACK, f"{what}: {took:.2f} s"
    assert longest <= 2 * SEGMENT + 1.0, longest
    assert not track.gaps, f"sequence numbers skipped: {track.gaps}"
    assert not fatal, fatal
    assert played >= 0.75 * wall, f"{played:.1f} s played in {wall:.1f} s"
    assert len(track.discontinuities(began)) >= 3
    assert 'hlsd_input_on_air{input="primary"} 1.0' in metrics
    assert 'hlsd_input_on_air{input="slate"} 0.0' in metrics
    switched = re.search(r"^hlsd_input_switches_total (\S+)$", metrics, re.M)
    assert switched and float(switched.group(1)) >= 4, switched  # start + 3 switches


def test_sighup_with_a_new_input_location_moves_the_stream(
        tmp_path: Path, daemons: Callable[..., Hlsd]) -> None:
    """1. `hlsd run` on UDP input A (with input_loss); B sends on another port
    2. the config's input_location is changed to B and SIGHUP sent: segments of B follow
       (a new ingest stage), behind a discontinuity, numbering continued
    3. A's reader is gone (no ffmpeg left reading A)
    """
    ports = free_port(socket.SOCK_DGRAM), free_port(socket.SOCK_DGRAM)
    a = Publisher(udp_url(ports[0]) + "?pkt_size=1316", PRIMARY, tmp_path / "a.log").start()
    b = Publisher(udp_url(ports[1]) + "?pkt_size=1316", BACKUP, tmp_path / "b.log").start()
    www = tmp_path / "www"
    config = continuity_config(tmp_path, udp_url(ports[0]), input_loss=True)
    hlsd = daemons(config, tmp_path / "hlsd.log").start()
    try:
        with Watcher([directory_store("www", www)], [RUNG]) as watcher:
            s = Switches(watcher, hlsd, www)
            s.settle(0.0, 2)
            assert s.source(s.track.order[-1]) == "primary"
            continuity_config(tmp_path, udp_url(ports[1]), input_loss=True)
            hlsd.proc.send_signal(signal.SIGHUP)  # type: ignore[union-attr]
            sent = time.monotonic()
            join = s.join_after(sent)
            assert s.source(join) == "backup 1"  # B's look, now as the primary
            s.settle(join.at, 2)
            readers = [c for c in hlsd.children() if udp_url(ports[0]) in " ".join(c.argv)]
            assert not readers, readers
            code = hlsd.stop()
            watcher.poll()
        watcher.check()
        assert code == 0
        assert not s.track.gaps
    finally:
        a.stop()
        b.stop()


@pytest.mark.parametrize("mode", ["per_rung", "shared"])
def test_rungs_switch_together(tmp_path: Path, daemons: Callable[..., Hlsd],
                               mode: str) -> None:
    """1. two rungs, with an encoder each (per_rung) or one for both (shared), a UDP
       primary and a warm backup
    2. the primary is SIGKILLed, then started again: two switches
    3. both rungs list the same sequence numbers, none skipped, with their
       discontinuities at the same numbers (the new source's runs start together on one
       number, and its clock starts a new grid)
    """
    ports = free_port(socket.SOCK_DGRAM), free_port(socket.SOCK_DGRAM)
    primary = Publisher(udp_url(ports[0]) + "?pkt_size=1316", PRIMARY, tmp_path / "p.log")
    backup = Publisher(udp_url(ports[1]) + "?pkt_size=1316", BACKUP, tmp_path / "b.log")
    primary.start()
    backup.start()
    www = tmp_path / "www"
    small = f"ffmpeg -i %s -s 160x120 {FAST_X264} -b:v 150k -c:a aac -b:a 48k -f mpegts -"
    config = fault_config(tmp_path / "hlsd.yaml", tmp_path, {RUNG: ENCODER, "small": small},
                          {"www": copy_profile(www)}, input_location=udp_url(ports[0]),
                          backup_inputs=[udp_url(ports[1])], input_loss={"after": AFTER},
                          encoder_mode=mode)
    hlsd = daemons(config, tmp_path / "hlsd.log").start()
    figures: dict[str, Any] = {}
    try:
        with Watcher([directory_store("www", www)], [RUNG, "small"]) as watcher:
            s = Switches(watcher, hlsd, www)
            s.settle(0.0)
            s.switch(primary.stop, "backup 1", figures, "backup_on_air")
            s.switch(primary.start, "primary", figures, "primary_back_on_air")
            watcher.wait_segments("www", "small", 3, after=s.track.order[-1].at,
                                  timeout=30, alive=s.healthy)
            code = hlsd.stop()
            watcher.poll()
        watcher.check()
    finally:
        primary.stop()
        backup.stop()
    assert code == 0, hlsd.tail()
    big, small_track = watcher.track("www", RUNG), watcher.track("www", "small")
    assert not big.gaps and not small_track.gaps, (big.gaps, small_track.gaps)
    common = set(big.seen) & set(small_track.seen)
    assert len(common) >= 8, common
    assert {s.seq for s in big.order if s.discontinuity and s.seq in common} == \
        {s.seq for s in small_track.order if s.discontinuity and s.seq in common}
    assert len([x for x in big.order if x.discontinuity]) >= 2


def test_an_uncompressed_live_input_is_encoded_by_its_reader(
        tmp_path: Path, daemons: Callable[..., Hlsd]) -> None:
    """1. a live input whose picture is uncompressed, as a capture device's is (lavfi's
       raw test pattern with -re -f lavfi among the command's input options, which go to
       the reader)
    2. the reader finds rawvideo, says so once, and relays an x264/AAC mezzanine
       instead of copying: segments are published, at the input's size, and decode
    """
    www = tmp_path / "www"
    command = f"ffmpeg -re -f lavfi -i %s {FAST_X264} -b:v 200k -f mpegts -"
    config = fault_config(tmp_path / "hlsd.yaml", tmp_path, {RUNG: command},
                          {"www": copy_profile(www)},
                          input_location="testsrc2=size=192x144:rate=25")
    hlsd = daemons(config, tmp_path / "hlsd.log").start()
    with Watcher([directory_store("www", www)], [RUNG]) as watcher:
        s = Switches(watcher, hlsd, www)
        s.settle(0.0, 3)
        newest = www / s.track.order[-1].uri
        code = hlsd.stop()
    watcher.check()
    assert code == 0, hlsd.tail()
    assert [(x["width"], x["height"]) for x in probe(newest)] == [(192, 144)]
    assert decode_errors(newest) == ""
    said = hlsd.events(event=lambda e: str(e).startswith("input is uncompressed"))
    assert len(said) == 1 and said[0]["level"] == "warning", said
