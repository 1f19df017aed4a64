"""Scenario 4: each remote destination refuses connections for 30 s, then comes back on the
same port, while a copy destination runs alongside."""

from __future__ import annotations

import random
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.daemon_util import FAST_X264, wait_for
from tests.faults.harness import SEGMENT, WINDOW, Hlsd, copy_profile, fault_config, observe
from tests.faults.watcher import Watcher, directory_store, s3_store
from tests.fixtures.ftp_server import FtpServer
from tests.fixtures.s3_server import S3Server
from tests.fixtures.ssh_server import SshdServer

pytestmark = [pytest.mark.faults, pytest.mark.e2e]

OUTAGE = 30.0  # seconds each remote destination refuses connections
STAGGER = 10.0  # the outages start at random moments within this many seconds
RUNGS = ["hi", "lo"]
# One ffmpeg for both rungs (encoder_mode auto: the same input, shared decode).
SOURCE = "ffmpeg -re -f lavfi -i testsrc2=size=160x90:rate=10"
COMMANDS = {"hi": f"{SOURCE} {FAST_X264} -b:v 300k -f mpegts -",
            "lo": f"{SOURCE} {FAST_X264} -b:v 100k -f mpegts -"}
S3_PREFIX = "live/"


@dataclass
class Outage:
    name: str
    stop: Callable[[], None]
    start: Callable[[], None]
    offset: float
    down_at: float = 0.0
    up_at: float = 0.0
    figures: dict[str, Any] = field(default_factory=dict)


def metric(url: str, name: str, **labels: str) -> float:
    with urllib.request.urlopen(url + "metrics", timeout=5) as response:
        text = response.read().decode()
    return sum(s.value for family in text_string_to_metric_families(text)
               for s in family.samples
               if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()))


def test_remote_destinations_refuse_then_return(
        tmp_path: Path, daemons: Callable[..., Hlsd], ftp_server: FtpServer,
        sshd_server: SshdServer, s3_server: S3Server, report: Callable[..., None]) -> None:
    """1. one `hlsd run`, two rungs (1 s segments, window 5) to copy, FTP, SFTP and S3
       (moto), with the HTTP origin for /metrics; the RFC 8216 watcher reads every
       destination's playlists every 0.2 s from the servers' own storage, so it keeps
       checking while a server is down
    2. at random moments within 10 s, each remote server is stopped (connections
       refused) for 30 s, then started again on the same port
    3. always, everywhere: nothing a playlist names is missing, the rules hold
    4. the copy destination never skips and never waits more than 2.5 segment lengths
       for a new segment; each remote one stands still while down, then catches up with
       the copy destination; what fell out of its window meanwhile is skipped (counted in
       hlsd_segments_skipped_total), with a DISCONTINUITY where its playlist resumes
    5. the log does not flood: a few warnings per outage, not one per segment
    6. once caught up, hlsd_upload_queue_depth reads 0 everywhere between two segments
    7. SIGTERM: exit 0
    """
    rng = random.Random(4)
    www = tmp_path / "www"
    ftp_dir, sftp_dir = ftp_server.root / "live", sshd_server.root / "live"
    destinations = {
        "www": copy_profile(www),
        "ftp": {"transfer_type": "ftp", "remote_host": ftp_server.host, "port": ftp_server.port,
                "user_name": ftp_server.user, "password": ftp_server.password,
                "directory": "/live"},
        "sftp": {"transfer_type": "sftp", "remote_host": sshd_server.host,
                 "port": sshd_server.port, "user_name": sshd_server.user,
                 "key_file": str(sshd_server.client_key),
                 "known_hosts": str(sshd_server.known_hosts), "directory": str(sftp_dir)},
        "s3": {"transfer_type": "s3", "bucket_name": s3_server.bucket, "key_prefix": S3_PREFIX,
               "aws_api_key": s3_server.access_key, "aws_api_secret": s3_server.secret_key,
               "endpoint_url": s3_server.endpoint_url, "region": s3_server.region,
               "addressing_style": "path"},
    }
    config = fault_config(tmp_path / "hlsd.yaml", tmp_path, COMMANDS, destinations,
                          encoder_mode="auto", http={"listen": "127.0.0.1", "port": 0})
    hlsd = daemons(config, tmp_path / "hlsd.log").start()
    stores = [directory_store("www", www), directory_store("ftp", ftp_dir),
              directory_store("sftp", sftp_dir),
              s3_store("s3", s3_server.bucket, S3_PREFIX)]
    outages = [Outage("ftp", ftp_server.stop, ftp_server.start, rng.uniform(0, STAGGER)),
               Outage("sftp", sshd_server.stop, sshd_server.start, rng.uniform(0, STAGGER)),
               Outage("s3", s3_server.stop, s3_server.start, rng.uniform(0, STAGGER))]

    with Watcher(stores, RUNGS) as watcher:
        def healthy() -> None:
            hlsd.alive()
            watcher.check()

        for store in stores:
            for rung in RUNGS:
                watcher.wait_segments(store.name, rung, 3, timeout=40, alive=hlsd.alive)
        url = hlsd.wait_event(10, "the origin's URL", event="http origin listening")["url"]
        began = time.monotonic()
        steps = sorted([(o.offset, "down", o) for o in outages]
                       + [(o.offset + OUTAGE, "up", o) for o in outages], key=lambda s: s[0])
        for at, step, outage in steps:
            observe(began + at - time.monotonic(), healthy)
            if step == "down":
                outage.stop()
                outage.down_at = time.monotonic()
                outage.figures["newest_at_down"] = watcher.newest(outage.name, "hi")
            else:
                outage.start()
                outage.up_at = time.monotonic()

        def caught_up() -> bool:
            healthy()
            return all(watcher.newest(o.name, r) >= watcher.newest("www", r) - 1
                       for o in outages for r in RUNGS)

        wait_for(caught_up, 40, "every destination caught up with the copy destination")
        caught_up_at = time.monotonic()

        def drained() -> bool:
            # Between two segments every queue empties; the gauge must say so.
            healthy()
            return all(metric(url, "hlsd_upload_queue_depth", destination=store.name) == 0
                       for store in stores)

        wait_for(drained, 10, "hlsd_upload_queue_depth 0 at every destination")
        observe(2 * SEGMENT, healthy)  # a couple more polls of the caught-up playlists
        skipped = {o.name: metric(url, "hlsd_segments_skipped_total", destination=o.name)
                   for o in outages}
        www_skipped = metric(url, "hlsd_segments_skipped_total", destination="www")
        code = hlsd.stop()
    watcher.check()
    assert code == 0, hlsd.tail()

    events = hlsd.events(began)
    www_tracks = [watcher.track("www", r) for r in RUNGS]
    report("copy alongside", gaps=sum(len(t.gaps) for t in www_tracks),
           longest_wait=max(t.longest_wait(began, caught_up_at) for t in www_tracks),
           segments=len(www_tracks[0].order), skipped=www_skipped,
           catch_up_total=caught_up_at - began)
    for outage in outages:
        tracks = [watcher.track(outage.name, r) for r in RUNGS]
        hi = tracks[0]
        back = hi.first_after(outage.up_at)
        assert back is not None, outage.name
        newest_copy = max(s.seq for s in www_tracks[0].order if s.at <= back.at)
        lines = [e for e in events if e.get("destination") == outage.name
                 and e["at"] >= outage.down_at]  # to the daemon's last line
        warnings = [e for e in lines if e["level"] in ("warning", "error")]
        outage.figures.update(
            down=round(outage.down_at - began, 1), stood_still=hi.longest_wait(
                outage.down_at, outage.up_at), recovery=back.at - outage.up_at,
            lag_at_return=newest_copy - back.seq, missing=sum(t.missing for t in tracks),
            skipped=skipped[outage.name], log_lines=len(lines), warnings=len(warnings))
        report(f"{outage.name} refused {OUTAGE:.0f}s", **outage.figures)

        # While down, its playlists stood still (at most one segment in flight finished).
        assert all(s.seq <= outage.figures["newest_at_down"] + 1 for s in hi.order
                   if outage.down_at + 1 < s.at < outage.up_at), outage.name
        # It came back within the retry backoff's cap (2 target durations) plus a little,
        # resuming with a DISCONTINUITY after the segments it had to skip.
        assert back.at - outage.up_at <= 2 * SEGMENT + 3.0, outage.figures
        assert back.discontinuity and hi.gaps, outage.figures
        assert 0 < skipped[outage.name] <= len(RUNGS) * (OUTAGE / SEGMENT + WINDOW)
        assert outage.figures["missing"] >= skipped[outage.name]
        # Not a flood: a handful of warnings per outage, not one per segment and rung:
        # failing, deletes failing, segments skipped (at most every 30 s, and at the stop).
        assert len(warnings) <= 5, [e["event"] for e in warnings]

    assert min(watcher.masters_checked.values()) > 0, watcher.masters_checked
    # The copy destination never skipped and never stalled, whatever the others did.
    assert www_skipped == 0
    assert not any(t.gaps for t in www_tracks), [t.gaps for t in www_tracks]
    assert max(t.longest_wait(began, caught_up_at) for t in www_tracks) <= 2.5 * SEGMENT
