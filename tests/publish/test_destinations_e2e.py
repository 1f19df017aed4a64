"""Several destinations at once, end to end: one `hlsd run` publishing one live rung to a
local directory, FTP, SFTP and S3 (plus an SFTP server whose pinned host key is wrong),
each checked at every poll as a client would see it, through outages of FTP and S3.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.daemon_util import lavfi_command, read, running, write_config
from tests.fixtures.ftp_server import FtpServer
from tests.fixtures.s3_server import S3Server
from tests.fixtures.ssh_server import SshdServer
from tests.hlscheck import MediaPlaylistWatcher, check_master, parse_media_text

pytestmark = pytest.mark.e2e

SEGMENT = 1  # seconds; target duration 1, so the playlist floor is 3 s
WINDOW = 3  # index_segment_count
RUNG = "ep"
VARIANT = f"live_{RUNG}.m3u8"
MASTER = "live.m3u8"
S3_PREFIX = "live/"
OUTAGE = 6.0  # seconds: longer than the lane (4 segments), so some must be skipped
POLL = 0.25
# Deletion is due at leave + duration + playlist duration; the retention loop ticks every
# second and the poller sees a removal up to one poll late.
DELETE_SLACK = 2.5
# A delete that failed while the destination was down is retried 5 s later.
DELETE_RETRY = 6.5


@dataclass
class Site:
    """One destination as a client sees it: read a playlist, check an object exists."""

    name: str
    fetch: Callable[[str], str | None]
    exists: Callable[[str], bool]
    up: Callable[[], bool] = lambda: True
    watcher: MediaPlaylistWatcher = field(init=False)
    listed: dict[str, float] = field(default_factory=dict)  # uri -> last poll listing it
    durations: dict[str, float] = field(default_factory=dict)
    left: dict[str, float] = field(default_factory=dict)  # uri -> first poll not listing it
    gone: set[str] = field(default_factory=set)
    jumps: list[tuple[float, int, int]] = field(default_factory=list)  # (when, old end, new)
    # Gaps seen after a poll that came later than a playlist lasts (a loaded machine): the
    # segments in between may have been listed unseen, so these prove no skip.
    blind: list[tuple[float, int, int]] = field(default_factory=list)
    seqs: list[tuple[float, int]] = field(default_factory=list)  # (first seen, seq)
    longest: float = 0.0
    last_seq: int = -1
    up_since: float = 0.0
    last_poll: float = 0.0
    last_duration: float = 0.0

    def __post_init__(self) -> None:
        self.watcher = MediaPlaylistWatcher(f"{self.name}:{VARIANT}")

    def poll(self, now: float) -> None:
        if not self.up():
            return
        text = self.fetch(VARIANT)
        if text is None:
            return
        self.watcher.check(text, self.exists)  # every listed object exists, RFC rules hold
        playlist = parse_media_text(text, self.name)
        self.longest = max(self.longest, playlist.duration)
        late = now - self.last_poll > self.last_duration - SEGMENT
        self.last_poll, self.last_duration = now, playlist.duration
        uris = {s.uri for s in playlist.segments}
        for s in playlist.segments:
            if s.msn > self.last_seq:
                if self.last_seq >= 0 and s.msn > self.last_seq + 1:
                    (self.blind if late else self.jumps).append((now, self.last_seq, s.msn))
                self.seqs.append((now, s.msn))
                self.last_seq = s.msn
            self.listed[s.uri] = now
            self.durations[s.uri] = s.duration
        for uri in list(self.listed):
            if uri not in uris and uri not in self.left:
                self.left[uri] = now
        self.check_retention(now)

    def check_retention(self, now: float) -> None:
        """Gone neither before the RFC 8216 §6.2.2 grace time nor long after it."""
        for uri, left in self.left.items():
            if uri in self.gone:
                continue
            present = self.exists(uri)
            earliest = self.listed[uri] + self.durations[uri] + 3 * SEGMENT
            assert present or now >= earliest - 0.05, \
                f"{self.name}: {uri} deleted {earliest - now:.2f} s before its grace time"
            if not present:
                self.gone.add(uri)
                continue
            due = left + self.durations[uri] + self.longest + DELETE_SLACK
            settled = now - self.up_since > DELETE_RETRY  # retried deletes had their chance
            assert now < due or not settled, \
                f"{self.name}: {uri} still there {now - due:.1f} s after its grace time"


def test_four_destinations_publish_through_outages(
        tmp_path: Path, ftp_server: FtpServer, sshd_server: SshdServer,
        s3_server: S3Server) -> None:
    """1. one `hlsd run`, one live rung (1 s segments, window 3), five destinations: copy,
       FTP (password), SFTP (password, pinned host key), S3 (moto) and an SFTP destination
       pinned to the wrong host key
    2. poll every destination every 0.25 s: RFC rules, every listed object exists there,
       S3 headers (HEAD), deletions neither early nor late
    3. stop FTP for 6 s: the others keep advancing without a gap, FTP's playlist stands
       still; after start() it catches up, the segments that fell out of the window are
       skipped (logged, counted) and never listed
    4. the same with S3
    5. the wrong host key is refused and logged; the daemon never crashes; no password
       appears in its log
    """
    assert sshd_server.password_user and sshd_server.password, "needs root (password user)"
    www = tmp_path / "www"
    ftp_dir = ftp_server.root / "live"
    sftp_dir = sshd_server.root / "live"
    bad_dir = sshd_server.root / "refused"
    config = write_config(
        tmp_path / "multi.yaml", temp_dir=str(tmp_path / "work"), input_location="lavfi",
        live=True, log_level="INFO", segment_length=SEGMENT, index_segment_count=WINDOW,
        encoding_profile=RUNG, transfer_profile=["www", "ftp", "sftp", "s3", "sftp_bad"],
        ep={"ffmpeg_command": lavfi_command(size="160x90", audio=False)},
        http={"listen": "127.0.0.1", "port": 0},
        www={"transfer_type": "copy", "directory": str(www)},
        ftp={"transfer_type": "ftp", "remote_host": ftp_server.host, "port": ftp_server.port,
             "user_name": ftp_server.user, "password": ftp_server.password,
             "directory": "/live"},
        sftp={"transfer_type": "sftp", "remote_host": sshd_server.host,
              "port": sshd_server.port, "user_name": sshd_server.password_user,
              "password": sshd_server.password, "host_key": sshd_server.host_key_line,
              "directory": str(sftp_dir)},
        s3={"transfer_type": "s3", "bucket_name": s3_server.bucket, "key_prefix": S3_PREFIX,
            "aws_api_key": s3_server.access_key, "aws_api_secret": s3_server.secret_key,
            "endpoint_url": s3_server.endpoint_url, "region": s3_server.region,
            "addressing_style": "path"},
        # Any valid key that is not the server's: the client key's public half.
        sftp_bad={"transfer_type": "sftp", "remote_host": sshd_server.host,
                  "port": sshd_server.port, "user_name": sshd_server.user,
                  "key_file": str(sshd_server.client_key),
                  "host_key": " ".join(Path(f"{sshd_server.client_key}.pub")
                                       .read_text().split()[:2]),
                  "directory": str(bad_dir)})

    checked_heads: set[str] = set()

    def s3_exists(uri: str) -> bool:
        try:
            head = s3_server.head(S3_PREFIX + uri)
        except ClientError:
            return False
        if uri not in checked_heads:
            checked_heads.add(uri)
            assert head["ContentType"] == "video/mp2t", head
            assert head["CacheControl"] == "max-age=31536000, immutable", head
        return True

    def s3_fetch(name: str) -> str | None:
        try:
            return s3_server.read(S3_PREFIX + name).decode()
        except ClientError:
            return None

    def on_disk(root: Path) -> tuple[Callable[[str], str | None], Callable[[str], bool]]:
        return (lambda name: read(root / name)), (lambda uri: (root / uri).is_file())

    www_site = Site("www", *on_disk(www))
    ftp_site = Site("ftp", *on_disk(ftp_dir))  # the server's files, even while it is down
    sftp_site = Site("sftp", *on_disk(sftp_dir))
    s3_site = Site("s3", s3_fetch, s3_exists, up=lambda: s3_server.running)
    sites = [www_site, ftp_site, sftp_site, s3_site]
    log_path = tmp_path / "hlsd.log"

    with running(config, log_path) as proc:
        def poll_for(seconds: float, until: Callable[[], bool] | None = None) -> None:
            """Poll every site for `seconds`, or until `until()` (then it must come true)."""
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                assert proc.poll() is None, log_path.read_text()[-3000:]
                now = time.monotonic()
                for site in sites:
                    site.poll(now)
                if until is not None and until():
                    return
                time.sleep(POLL)
            assert until is None, (f"condition not met within {seconds} s; last seqs "
                                   f"{[(s.name, s.last_seq) for s in sites]}")

        def caught_up(site: Site) -> bool:
            # Its playlist reached what the undisturbed destination shows now.
            return site.last_seq >= www_site.last_seq > 0

        # 1-2: everyone publishes.
        poll_for(40, lambda: all(s.last_seq >= 4 for s in sites))
        for site in sites:
            site.up_since = time.monotonic()

        # 3: FTP outage.
        ftp_server.stop()
        stopped_at, ftp_seq, www_seq = time.monotonic(), ftp_site.last_seq, www_site.last_seq
        stopped_at_ftp = stopped_at
        poll_for(OUTAGE)
        assert ftp_site.last_seq <= ftp_seq + 1, "FTP playlist advanced while FTP was down"
        assert www_site.last_seq >= www_seq + OUTAGE / SEGMENT - 2
        ftp_server.start()
        ftp_site.up_since = time.monotonic()
        poll_for(20, lambda: caught_up(ftp_site))
        gaps = ftp_site.jumps + ftp_site.blind
        assert gaps and max(gaps)[0] > stopped_at, gaps
        ftp_caught_up = time.monotonic()

        # 4: S3 outage.
        s3_server.stop()
        stopped_at, s3_seq, www_seq = time.monotonic(), s3_site.last_seq, www_site.last_seq
        poll_for(OUTAGE)
        assert www_site.last_seq >= www_seq + OUTAGE / SEGMENT - 2
        s3_server.start()
        s3_site.up_since = time.monotonic()
        poll_for(20, lambda: caught_up(s3_site))
        assert s3_site.last_seq > s3_seq
        gaps = s3_site.jumps + s3_site.blind
        assert gaps and max(gaps)[0] > stopped_at, gaps
        s3_caught_up = time.monotonic()

        # Let the deletions that failed during the outages be retried, still checking.
        poll_for(DELETE_RETRY + 1)

        # What the origin shows the world never carries a secret either.
        origin = next(json.loads(line)["url"] for line in log_path.read_text().splitlines()
                      if '"http origin listening"' in line)
        for route in ("metrics", "info.json", "healthz"):
            with urllib.request.urlopen(origin + route, timeout=10) as r:
                body = r.read().decode()
            for secret in (ftp_server.password, sshd_server.password, s3_server.secret_key):
                assert secret not in body, route

    # The undisturbed destinations never missed a segment; the others only at their outage.
    # (The daemon's own count of skipped segments is checked against its log below.)
    assert not www_site.jumps and not sftp_site.jumps, (www_site.jumps, sftp_site.jumps)
    # A recovering server may be slow at first (moto's first PUTs after a restart), so
    # catching up may skip again; once caught up, nothing more is skipped.
    for site, start, done in ((ftp_site, stopped_at_ftp, ftp_caught_up),
                              (s3_site, stopped_at, s3_caught_up)):
        gaps = site.jumps + site.blind
        assert gaps, site.name
        assert all(start < when <= done for when, _, _ in gaps), (site.name, gaps)
    for site in sites:
        assert len(site.left) >= 10, f"{site.name}: too few segments left the playlist"
        assert len(site.gone) >= len(site.left) - 8, f"{site.name}: deletions lag"
    # Segments uploaded but skipped before being listed are deleted too: the directories
    # hold about a window plus a grace time of segments, not the whole run.
    for root in (www, ftp_dir, sftp_dir):
        assert len(list(root.glob("*.ts"))) <= 12, sorted(p.name for p in root.glob("*.ts"))
    assert len(s3_server.keys(S3_PREFIX)) <= 14
    for site in sites:
        master = site.fetch(MASTER)
        assert master is not None, f"{site.name}: no master playlist"
        check_master(master, lambda uri, site=site: site.fetch(uri) is not None,
                     where=f"{site.name}:{MASTER}")
    for key in (S3_PREFIX + VARIANT, S3_PREFIX + MASTER):
        head = s3_server.head(key)
        assert head["ContentType"] == "application/vnd.apple.mpegurl", head
        assert head["CacheControl"] == "max-age=1", head
    assert not bad_dir.exists() or not any(bad_dir.iterdir())

    text = log_path.read_text()
    events = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    for secret in (ftp_server.password, sshd_server.password, s3_server.secret_key):
        assert secret not in text
    skipped = {e["destination"] for e in events
               if e.get("event", "").startswith("segments skipped")}
    assert {"ftp", "s3"} <= skipped and not skipped & {"www", "sftp"}, skipped
    refusals = [e for e in events if e.get("destination") == "sftp_bad"
                and "host key NOT trusted" in str(e.get("error", ""))]
    assert refusals, "no host key refusal logged for sftp_bad"
    recovered = {e["destination"] for e in events if e.get("event") == "destination recovered"}
    assert {"ftp", "s3"} <= recovered, recovered
