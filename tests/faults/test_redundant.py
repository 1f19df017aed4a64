"""Redundant hosts: hls.js plays host a, host a dies (SIGKILL), playback goes on from host b.

Both hosts run `timeline: locked` on one UDP source (tests/faults/test_locked.py proves
they list the same segments). Players move over in two ways: content steering (the
master lists both hosts as pathways; hls.js leaves a pathway that stops answering), and
a CDN-style origin group (etc/nginx/hlsd-origin-group.conf: nginx asks host b when host
a refuses).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from hlsd.config import DEFAULT_HLS_JS
from tests.browser import browser_page, require_browser, wait_for_playback
from tests.daemon_util import FAST_X264, descendants, wait_for
from tests.faults.harness import START_SAMPLING, Hlsd, copy_profile, fault_config, free_port
from tests.faults.test_locked import Source
from tests.fixtures.nginx_cache import NginxCache, nginx_binary

pytestmark = [pytest.mark.e2e, pytest.mark.faults, pytest.mark.browser]

RUNG = "cam"
ENCODER = f"ffmpeg -i %s {FAST_X264} -b:v 300k -c:a aac -b:a 64k -f mpegts -"
STARTED_APART = 7.0
AFTER_KILL = 25.0  # seconds of playback watched once host a is gone
SHIPPED_GROUP = Path(__file__).resolve().parents[2] / "etc" / "nginx" / "hlsd-origin-group.conf"

class OriginGroup(NginxCache):
    """etc/nginx/hlsd-origin-group.conf with this test's ports and paths."""

    def __init__(self, primary: int, backup: int, workdir: Path) -> None:
        super().__init__(primary, workdir)
        self.backup_port = backup

    def config(self) -> str:
        text = SHIPPED_GROUP.read_text()
        for old, new in [
                ("server 127.0.0.1:8080 max_fails=1 fail_timeout=10s;",
                 f"server 127.0.0.1:{self.origin_port} max_fails=1 fail_timeout=10s;"),
                ("server 127.0.0.1:8082 backup;", f"server 127.0.0.1:{self.backup_port} backup;"),
                ("listen 127.0.0.1:8081;", f"listen 127.0.0.1:{self.port};"),
                ("access_log /var/log/nginx/hlsd-origin-group.log ",
                 f"access_log {self.access_log} ")]:
            assert text.count(old) == 1, f"{SHIPPED_GROUP.name}: expected {old!r} once"
            text = text.replace(old, new)
        return text


def host(name: str, tmp: Path, udp: int, http: int, daemons: Any, **settings: Any) -> Hlsd:
    www = copy_profile(tmp / name / "www")
    config = fault_config(
        tmp / f"{name}.yaml", tmp / name, {RUNG: ENCODER}, {"www": www},
        timeline="locked", index_segment_count=8,
        input_location=f"udp://127.0.0.1:{udp}?fifo_size=1000000&overrun_nonfatal=1",
        http={"listen": "127.0.0.1", "port": http}, **settings)
    return daemons(config, tmp / f"{name}.log")  # type: ignore[no-any-return]


def master_of(tmp: Path, name: str) -> str:
    master = tmp / name / "www" / "live.m3u8"
    wait_for(master.exists, 60, f"host {name}'s master")
    return master.read_text()


def start_apart(a: Hlsd, b: Hlsd) -> None:
    """Host b starts 7 s after host a: with their own numbering (timeline: local) b would
    be 7 segments behind, and a player moving over would wait or skip."""
    a.start()
    started = time.monotonic()
    time.sleep(STARTED_APART)
    assert time.monotonic() - started >= STARTED_APART
    b.start()


def kill_all(hlsd: Hlsd) -> None:
    """Host a dies with everything it started (a power cut, not a stop)."""
    assert hlsd.proc is not None
    for pid in [*descendants(hlsd.proc.pid), hlsd.proc.pid]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    hlsd.proc.wait()


async def play_through_failover(url: str, a: Hlsd, b_port: int, report: Any,
                                scenario: str) -> None:
    async with browser_page(serve_hlsjs_at=DEFAULT_HLS_JS) as session:
        requests: list[tuple[float, str]] = []
        session.page.on("request", lambda r: requests.append((time.monotonic(), r.url)))
        await session.page.goto(url)
        await wait_for_playback(session.page, seconds=2.0, timeout_ms=40_000)
        await session.page.evaluate(START_SAMPLING)
        await asyncio.sleep(3.0)  # some playback from host a first
        killed = time.monotonic()
        await asyncio.to_thread(kill_all, a)
        await asyncio.sleep(AFTER_KILL)
        samples: list[list[float]] = await session.page.evaluate("window.__samples")
        fatal: list[str] = await session.page.evaluate("window.__fatal")
        position = float(await session.page.evaluate(
            "document.querySelector('video').currentTime"))
    after = [s for s in samples if s[0] >= samples[0][0] + 3.0]
    wall = after[-1][0] - after[0][0]
    played = after[-1][1] - after[0][1]
    from_b = [u for t, u in requests if t > killed and urlsplit(u).port == b_port]
    report(f"failover a -> b, {scenario}", played_ratio=round(played / wall, 2),
           watched=round(wall, 1), requests_to_b=len(from_b), position=round(position, 1))
    assert not fatal, fatal
    # The issue asks for 70 %; locked hosts give 97-100 %. The same test with each host
    # numbering on its own (timeline: local, b started 7 s later) gave 79-80 %: a stall of
    # ~5 s while the player waited for b to reach its numbers. 90 % tells the two apart.
    assert played >= 0.9 * wall, f"{played:.1f} s played in {wall:.1f} s after the kill"
    return None


def test_content_steering_moves_players_to_host_b(tmp_path: Path, daemons: Any,
                                                  report: Any) -> None:
    """1. one UDP source sent to hosts a and b (timeline: locked; b started 7 s after a),
       each with its origin and `pathways: [a, b]` naming both origins;
    2. hls.js in Chromium plays host a's player page (its master lists both pathways);
    3. host a and its children are SIGKILLed; hls.js moves to pathway b and plays ≥ 90 %
       of the next 25 s, with no fatal error, loading from host b."""
    require_browser()
    udp = [free_port(), free_port()]
    http = [free_port(), free_port()]
    pathways = [{"id": "a", "url_prefix": f"http://127.0.0.1:{http[0]}/"},
                {"id": "b", "url_prefix": f"http://127.0.0.1:{http[1]}/"}]
    a = host("a", tmp_path, udp[0], http[0], daemons, pathways=pathways)
    b = host("b", tmp_path, udp[1], http[1], daemons, pathways=pathways)
    source = Source(udp, 36000.0, tmp_path / "source.log")
    try:
        start_apart(a, b)
        for name in ("a", "b"):
            master_of(tmp_path, name)
        master = master_of(tmp_path, "a")
        assert 'PATHWAY-ID="b"' in master and "#EXT-X-CONTENT-STEERING" in master, master
        asyncio.run(play_through_failover(f"http://127.0.0.1:{http[0]}/", a, http[1],
                                          report, "content steering"))
        b.alive()
    finally:
        source.stop()


def test_origin_group_moves_players_to_host_b(tmp_path: Path, daemons: Any,
                                              report: Any) -> None:
    """1. hosts a and b as above, without pathways, behind nginx
       (etc/nginx/hlsd-origin-group.conf: a, and b as its backup);
    2. hls.js plays the player page through nginx;
    3. host a is SIGKILLed: nginx asks b, hls.js plays ≥ 90 % of the next 25 s."""
    require_browser()
    if nginx_binary() is None:
        pytest.skip("nginx is not installed (apt-get install nginx-light)")
    udp = [free_port(), free_port()]
    http = [free_port(), free_port()]
    a = host("a", tmp_path, udp[0], http[0], daemons)
    b = host("b", tmp_path, udp[1], http[1], daemons)
    group = OriginGroup(http[0], http[1], tmp_path / "nginx")
    source = Source(udp, 36000.0, tmp_path / "source.log")
    try:
        start_apart(a, b)
        for name in ("a", "b"):
            master_of(tmp_path, name)
        group.start()
        asyncio.run(play_through_failover(group.url, a, group.port, report, "nginx group"))
        b.alive()
        upstreams = {e.request for e in group.logged() if e.upstream}
        assert upstreams, group.errors()
        log = group.access_log.read_text()
        assert f"127.0.0.1:{http[1]}" in log, "nothing was asked of host b"
    finally:
        group.stop()
        source.stop()
