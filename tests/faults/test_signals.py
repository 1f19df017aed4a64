"""Scenarios 6 and 7: a storm of SIGHUPs while streaming; SIGTERM during slow uploads."""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.daemon_util import wait_for
from tests.faults.harness import (
    SEGMENT,
    WINDOW,
    Hlsd,
    copy_profile,
    fault_config,
    live_rung,
    observe,
    warnings_about,
)
from tests.faults.watcher import Watcher, directory_store
from tests.fixtures.ftp_server import FtpServer

pytestmark = [pytest.mark.faults, pytest.mark.e2e]

SIGHUPS = 50
STORM = 10.0  # seconds
RELOAD_LINE = "config reloaded"
DRAIN_GRACE = 15.0  # hlsd waits this long for destinations to publish what is queued


def replace_file(path: Path, raw: dict[str, Any]) -> None:
    """Write + rename, as an editor or a config-management tool does: never half a file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(yaml.safe_dump(raw, sort_keys=False))
    tmp.replace(path)


def healthz(url: str) -> int:
    try:
        with urllib.request.urlopen(url + "healthz", timeout=2) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_sighup_storm(tmp_path: Path, daemons: Callable[..., Hlsd],
                      report: Callable[..., None]) -> None:
    """1. `hlsd run`, two rungs (one encoder each), two copy destinations, the HTTP origin
    2. 50 SIGHUPs at random moments within 10 s; before each, the config file is replaced
       (atomically) by one of two valid variants: the window (5 or 6) and one
       destination's concurrency (4 or 3: that destination is re-created) differ
    3. throughout: the RFC 8216 watcher on every playlist, /healthz polled (always 200)
    4. no segment lost (contiguous numbers at both destinations), no number listed twice,
       no DISCONTINUITY, no encoder restarted, no warning logged, no wait for a new segment
       longer than 2.5 segment lengths; the daemon then stops with exit 0
    """
    rng = random.Random(6)
    rungs = ["a", "b"]
    www, www2 = tmp_path / "www", tmp_path / "www2"
    config = fault_config(tmp_path / "hlsd.yaml", tmp_path,
                          {"a": live_rung(), "b": live_rung(size="128x72")},
                          {"www": copy_profile(www), "www2": copy_profile(www2)},
                          http={"listen": "127.0.0.1", "port": 0})
    raw = yaml.safe_load(config.read_text())
    variants = [raw, {**raw, "index_segment_count": WINDOW + 1,
                      "www2": {**raw["www2"], "concurrency": 3}}]
    hlsd = daemons(config, tmp_path / "hlsd.log").start()
    unhealthy: list[int] = []
    with Watcher([directory_store("www", www), directory_store("www2", www2)],
                 rungs) as watcher:
        for store in ("www", "www2"):
            for rung in rungs:
                watcher.wait_segments(store, rung, 2, timeout=30, alive=hlsd.alive)
        url = hlsd.wait_event(10, "the origin's URL", event="http origin listening")["url"]

        def healthy() -> None:
            hlsd.alive()
            watcher.check()
            if (code := healthz(url)) != 200:
                unhealthy.append(code)

        encoders = {r: hlsd.pipeline(r) for r in rungs}
        began = time.monotonic()
        moments = sorted(rng.uniform(0, STORM) for _ in range(SIGHUPS))
        for i, at in enumerate(moments):
            observe(began + at - time.monotonic(), healthy)
            replace_file(config, variants[i % 2])
            os.kill(hlsd.pid, signal.SIGHUP)
        storm_end = time.monotonic()
        hlsd.wait_event(20, "the last reload applied", since=storm_end - 0.5,
                        event=RELOAD_LINE)
        observe(3 * SEGMENT, healthy)
        for store in ("www", "www2"):
            for rung in rungs:
                watcher.wait_segments(store, rung, 2, after=time.monotonic(), timeout=10,
                                      alive=hlsd.alive)
        end = time.monotonic()
        after = {r: hlsd.pipeline(r) for r in rungs}
        code = hlsd.stop()
    watcher.check()
    assert code == 0, hlsd.tail()

    events = hlsd.events(began, end)
    reloads = [e for e in events if e["event"] == RELOAD_LINE]
    tracks = [watcher.track(s, r) for s in ("www", "www2") for r in rungs]
    report("SIGHUP x50 in 10s", sighups=SIGHUPS, storm=storm_end - began,
           reloads_applied=len(reloads), destination_restarts=len(
               [e for e in events if e["event"] == "destination restarted with new settings"]),
           segments=sum(len(t.order) for t in tracks), gaps=sum(len(t.gaps) for t in tracks),
           discontinuities=sum(len(t.discontinuities(began)) for t in tracks),
           longest_wait=max(t.longest_wait(began, end) for t in tracks),
           unhealthy=len(unhealthy), warnings=len(warnings_about(events)))

    assert reloads, "no reload was applied"
    assert not [e for e in events if e["event"].startswith("reload")], "a reload failed"
    assert not warnings_about(events), [e["event"] for e in warnings_about(events)]
    assert not unhealthy, unhealthy
    assert after == encoders, "an encoder was restarted by a reload"
    for track in tracks:
        assert not track.gaps, (track.store, track.rung, track.gaps)
        assert not track.discontinuities(began), (track.store, track.rung)
        assert track.longest_wait(began, end) <= 2.5 * SEGMENT, (track.store, track.rung)


def test_sigterm_during_slow_uploads(tmp_path: Path, daemons: Callable[..., Hlsd],
                                     make_ftp_server: Callable[..., FtpServer],
                                     report: Callable[..., None]) -> None:
    """1. `hlsd run`, one live rung (~45 kB segments) to a copy destination and two
       throttled FTP servers (pyftpdlib's ThrottledDTPHandler): `slow` receives 60 kB/s,
       so a segment upload takes most of a segment length; `crawl` 8 kB/s, far slower
       than real time (its in-flight upload always falls out of the window before it
       completes, so it may list nothing at all: see the report)
    2. SIGTERM while a segment upload to `slow` is in flight (its file is on the server,
       shorter than the copy destination's, and not yet listed)
    3. exit 0 within the drain grace; the state file numbers past everything listed;
       `slow`'s upload finished (then it is listed) or was abandoned (then never listed);
       `crawl` could not drain: its in-flight upload is abandoned, never listed
    4. `hlsd run` again: at every destination the first new segment is numbered after the
       last old one and carries a DISCONTINUITY; the watcher (one across both runs) never
       sees a number go back or a name reused; a partial file an abandoned upload left
       is deleted by the new run; SIGTERM: exit 0
    """
    servers = {"slow": make_ftp_server(upload_limit=60_000),
               "crawl": make_ftp_server(upload_limit=8_000)}
    www = tmp_path / "www"
    rung = "a"
    ftp_dirs = {name: server.root / "live" for name, server in servers.items()}
    config = fault_config(
        tmp_path / "hlsd.yaml", tmp_path, {rung: live_rung()},
        {"www": copy_profile(www), **{
            name: {"transfer_type": "ftp", "remote_host": s.host, "port": s.port,
                   "user_name": s.user, "password": s.password, "directory": "/live"}
            for name, s in servers.items()}})
    hlsd = daemons(config, tmp_path / "hlsd.log").start()
    state_file = tmp_path / "work" / "hlsd-state.json"
    stores = ["www", *servers]

    def partial(name: str) -> dict[str, int]:
        """Segment files at an FTP server shorter than the same file at www."""
        found = {}
        for path in ftp_dirs[name].glob("*.ts"):
            full = www / path.name
            with contextlib.suppress(FileNotFoundError):
                if path.stat().st_size < full.stat().st_size:
                    found[path.name] = path.stat().st_size
        return found

    with Watcher([directory_store("www", www)]
                 + [directory_store(n, d) for n, d in ftp_dirs.items()], [rung]) as watcher:
        tracks = {store: watcher.track(store, rung) for store in stores}
        watcher.wait_segments("slow", rung, 3, timeout=30, alive=hlsd.alive)
        wait_for(lambda: partial("crawl"), 20, "an upload to crawl in flight")

        def in_flight() -> str | None:
            hlsd.alive()
            listed = {s.uri for s in tracks["slow"].order}
            return next((n for n, size in partial("slow").items()
                         if n not in listed and size > 0), None)

        name: str = wait_for(in_flight, 20, "an upload to slow in flight", interval=0.02)
        upload_bytes = (www / name).stat().st_size
        stopping = time.monotonic()
        code = hlsd.stop(timeout=60)
        stop_took = time.monotonic() - stopping
        watcher.poll()
        state = json.loads(state_file.read_text())
        last_old = {store: t.newest for store, t in tracks.items()}
        finished = (ftp_dirs["slow"] / name).stat().st_size == upload_bytes
        listed = any(s.uri == name for s in tracks["slow"].order)
        left = {store: partial(store) for store in servers}
        stop_events = hlsd.events(stopping)

        restarted = time.monotonic()
        hlsd.start()
        for store in ("www", "slow"):
            watcher.wait_segments(store, rung, 2, after=restarted, timeout=40, alive=hlsd.alive)

        def cleaned() -> bool:
            hlsd.alive()
            return not any((ftp_dirs[store] / n).exists() for store in servers
                           for n in left[store])

        wait_for(cleaned, 15, "the abandoned partial uploads deleted")
        code2 = hlsd.stop()
    watcher.check()
    first_new = {store: tracks[store].first_after(restarted) for store in ("www", "slow")}
    busy = [e["destination"] for e in stop_events
            if e["event"].startswith("destination still busy at shutdown")]
    report("SIGTERM during slow FTP uploads", stop_took=stop_took, exit=code,
           in_flight=name, finished=finished, listed=listed, busy_at_stop=busy,
           partial_left={s: len(files) for s, files in left.items()},
           crawl_listed=len(tracks["crawl"].order),
           next_seq_saved=state["next_seq"], last_listed=last_old,
           first_after_restart={s: f.seq if f else None for s, f in first_new.items()},
           restart_exit=code2)

    assert code == 0 and code2 == 0, hlsd.tail()
    assert stop_took <= DRAIN_GRACE + 10, stop_took
    assert state["next_seq"] > max(last_old.values()), (state["next_seq"], last_old)
    # Finished and listed, or abandoned and never listed (the watcher saw no missing file).
    assert listed == finished, (name, finished, listed, left)
    assert busy == ["crawl"], busy
    for store, seen in first_new.items():
        assert seen is not None, store
        assert seen.seq > last_old[store], (store, seen.seq, last_old[store])
        assert seen.discontinuity, f"{store}: no DISCONTINUITY at the restart"
