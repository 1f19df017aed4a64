"""`hlsd run` as systemd runs it: sd_notify, reload on SIGHUP, the HTTP origin, health.

Real `hlsd run` subprocesses with real ffmpeg (two small live lavfi rungs, 1 s segments),
a fake service manager (an AF_UNIX datagram socket in NOTIFY_SOCKET), real signals.
"""

from __future__ import annotations

import itertools
import json
import os
import select
import signal
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.daemon_util import descendants, hlsd_argv, lavfi_command, process_name, read, wait_for
from tests.hlscheck import MediaPlaylistWatcher, parse_media_text

pytestmark = pytest.mark.e2e

SEGMENT_LENGTH = 1
WATCHDOG_USEC = 1_000_000  # pings every 0.5 s, so a test sees them start and stop quickly
RUNG_A = lavfi_command(size="192x108")
RUNG_B = lavfi_command(size="160x90")
RUNG_B_CHANGED = lavfi_command(size="160x90", extra="-b:v 200k")


# -- the fake service manager -----------------------------------------------------------------

@dataclass
class FakeSystemd:
    """systemd's end of NOTIFY_SOCKET: every datagram received, with its arrival time."""

    sock: socket.socket
    path: Path
    messages: list[tuple[float, list[str]]] = field(default_factory=list)

    def drain(self) -> list[tuple[float, list[str]]]:
        while select.select([self.sock], [], [], 0)[0]:
            self.messages.append((time.monotonic(), self.sock.recv(65536).decode().splitlines()))
        return self.messages

    def lines(self, since: int = 0) -> list[str]:
        """Every assignment received, flattened, from message index `since` on."""
        return [line for _, msg in self.drain()[since:] for line in msg]

    def wait(self, predicate: Callable[[list[str]], bool], timeout: float, what: str,
             since: int | None = None) -> int:
        """Wait for a message i >= `since` (default: the next one) with `predicate(its
        lines)`; returns i."""
        start = len(self.drain()) if since is None else since

        def found() -> int | None:
            for i, (_, msg) in enumerate(self.drain()[start:], start):
                if predicate(msg):
                    return i + 1  # wait_for treats 0 as false
            return None

        return int(wait_for(found, timeout, what, interval=0.05)) - 1


@contextmanager
def fake_systemd(tmp_path: Path) -> Iterator[FakeSystemd]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = tmp_path / "notify.sock"
    sock.bind(str(path))
    try:
        yield FakeSystemd(sock, path)
    finally:
        sock.close()


# -- the daemon -------------------------------------------------------------------------------

@contextmanager
def daemon(config: Path, log: Path, systemd: FakeSystemd) -> Iterator[Any]:
    """`hlsd run` under the fake systemd; it and its children are killed if a test fails."""
    import subprocess

    env = {**os.environ, "NOTIFY_SOCKET": str(systemd.path),
           "WATCHDOG_USEC": str(WATCHDOG_USEC)}
    env.pop("WATCHDOG_PID", None)
    with open(log, "ab") as out:
        proc = subprocess.Popen(hlsd_argv("run", str(config)), stdout=out,
                                stderr=subprocess.STDOUT, env=env)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            for child in descendants(proc.pid):
                with suppress(ProcessLookupError):
                    os.kill(child, signal.SIGCONT)  # a stopped child would ignore nothing
                    os.kill(child, signal.SIGKILL)
            proc.kill()
            proc.wait()


def log_events(log: Path) -> list[dict[str, Any]]:
    """The daemon's JSON log lines (anything else, e.g. a traceback, skipped)."""
    events = []
    for line in log.read_text(errors="replace").splitlines():
        with suppress(ValueError):
            event = json.loads(line)
            if isinstance(event, dict):
                events.append(event)
    return events


def logged(log: Path, event: str) -> list[dict[str, Any]]:
    return [e for e in log_events(log) if e.get("event") == event]


def encoders(pid: int) -> dict[str, int]:
    """{"192x108": pid, ...}: the daemon's ffmpeg processes, by the test pattern size."""
    found = {}
    for child in descendants(pid):
        if process_name(child) != "ffmpeg":
            continue
        with suppress(OSError):
            argv = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
            size = next(a for a in argv if a.startswith(b"testsrc2=")).split(b"=")[2]
            found[size.split(b":")[0].decode()] = child
    return found


def segmenter_of(daemon_pid: int, encoder: int) -> int:
    """The segmenter reading `encoder`'s stdout: its stdin is the same pipe."""
    pipe = os.readlink(f"/proc/{encoder}/fd/1")
    return next(p for p in descendants(daemon_pid) if process_name(p) == "hlsd-segmenter"
                and os.readlink(f"/proc/{p}/fd/0") == pipe)


def config_yaml(tmp_path: Path, **overrides: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "temp_dir": str(tmp_path / "work"), "input_location": "lavfi", "live": True,
        "segment_length": SEGMENT_LENGTH, "index_segment_count": 8,
        # one encoder per rung: changing rung b must leave rung a's encoder alone
        "encoder_mode": "per_rung",
        "encoding_profile": ["a", "b"], "transfer_profile": "local",
        "a": {"ffmpeg_command": RUNG_A}, "b": {"ffmpeg_command": RUNG_B},
        "local": {"transfer_type": "copy", "directory": str(tmp_path / "www")},
    }
    raw.update(overrides)
    return raw


def write(path: Path, raw: dict[str, Any]) -> Path:
    # write + rename, as an editor or a config-management tool would: never half a file
    tmp = path.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump(raw, sort_keys=False))
    tmp.replace(path)
    return path


def http_get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as exc:
        return int(exc.code), bytes(exc.read())


# -- playlists --------------------------------------------------------------------------------

@dataclass
class Seen:
    seq: int
    duration: float
    discontinuity: bool
    first_seen: float  # monotonic time the segment first appeared in the playlist


class PlaylistMonitor:
    """Polls variant playlists every 0.1 s in a thread: RFC rules at every poll, when each
    segment first appeared (the cadence a player sees), and optionally /healthz."""

    def __init__(self, playlists: dict[str, Path], health_url: str | None = None) -> None:
        self.playlists = playlists
        self.health_url = health_url
        self.unhealthy: list[str] = []  # /healthz bodies other than 200, if polled
        self.seen: dict[str, dict[int, Seen]] = {name: {} for name in playlists}
        self.errors: list[str] = []
        self._watchers = {name: MediaPlaylistWatcher(name) for name in playlists}
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PlaylistMonitor:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        assert not self.errors, self.errors

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            if self.health_url is not None:
                with suppress(OSError):  # refused once the daemon has stopped
                    code, body = http_get(self.health_url)
                    if code != 200:
                        self.unhealthy.append(body.decode())
            for name, path in self.playlists.items():
                text = read(path)
                if not text:
                    continue
                try:
                    self._watchers[name].check(text, partial(_exists_in, path.parent))
                    parsed = parse_media_text(text, name)
                except AssertionError as exc:
                    self.errors.append(str(exc))
                    continue
                now = time.monotonic()
                with self._lock:
                    for s in parsed.segments:
                        seq = int(s.uri.rsplit("-", 1)[1].split(".")[0])  # the file's number
                        self.seen[name].setdefault(
                            seq, Seen(seq, s.duration, s.discontinuity, now))

    def segments(self, name: str, after: float = 0.0) -> list[Seen]:
        with self._lock:
            return sorted((s for s in self.seen[name].values() if s.first_seen > after),
                          key=lambda s: s.seq)

    def newest(self, name: str) -> int:
        with self._lock:
            return max(self.seen[name], default=-1)

    def wait_for_more(self, name: str, n: int, timeout: float = 20.0) -> None:
        base = self.newest(name)
        wait_for(lambda: self.newest(name) >= base + n, timeout, f"{n} more segments of {name}")


def _exists_in(folder: Path, uri: str) -> bool:
    return (folder / uri).is_file()


# -- the tests --------------------------------------------------------------------------------

def test_notify_http_metrics_health_and_watchdog(tmp_path: Path) -> None:
    """1. start two rungs and an HTTP origin on port 0 under a fake NOTIFY_SOCKET
       (WATCHDOG_USEC 1 s): READY=1 with a STATUS= line, then WATCHDOG=1 and STATUS= lines
    2. the origin's URL is in the JSON log: /metrics parses with prometheus-client's parser,
       segments counted per rung and upload latency present; /healthz is 200
    3. freeze rung b's pipeline (SIGSTOP its ffmpeg and segmenter): /healthz turns 503
       naming b, and no WATCHDOG=1 arrives while it stays stale
    4. SIGCONT: /healthz is 200 again and the pings resume
    5. SIGHUP: RELOADING=1 with MONOTONIC_USEC (CLOCK_MONOTONIC, now), then READY=1
    6. SIGTERM: STOPPING=1, exit 0; the whole message sequence is in the order above
    """
    config = write(tmp_path / "hlsd.yaml", config_yaml(
        tmp_path, http={"listen": "127.0.0.1", "port": 0}))
    log = tmp_path / "hlsd.log"
    www = tmp_path / "www"
    with fake_systemd(tmp_path) as systemd, daemon(config, log, systemd) as proc, \
            PlaylistMonitor({"a": www / "live_a.m3u8", "b": www / "live_b.m3u8"}) as mon:
        ready = systemd.wait(lambda m: "READY=1" in m, 30, "READY=1", 0)
        assert encoders(proc.pid).keys() == {"192x108", "160x90"}, "READY=1 before the rungs"
        assert any(line.startswith("STATUS=") for line in systemd.messages[ready][1])
        url = wait_for(lambda: [e["url"] for e in logged(log, "http origin listening")], 10,
                       "the origin's URL in the log")[0]
        assert url.startswith("http://127.0.0.1:")
        mon.wait_for_more("a", 3)
        mon.wait_for_more("b", 3)
        systemd.wait(lambda m: "WATCHDOG=1" in m, 5, "a watchdog ping")

        # 2. metrics and health
        status, body = http_get(url + "metrics")
        assert status == 200
        families = {f.name: f for f in text_string_to_metric_families(body.decode())}
        segments = {s.labels["rung"]: s.value for s in families["hlsd_segments"].samples
                    if s.name == "hlsd_segments_total"}
        assert segments.keys() == {"a", "b"} and min(segments.values()) > 0, segments
        uploads = [s for s in families["hlsd_upload_seconds"].samples
                   if s.name == "hlsd_upload_seconds_count" and s.labels["kind"] == "segment"]
        assert uploads and uploads[0].labels["destination"] == "local"
        assert uploads[0].value > 0
        status, body = http_get(url + "healthz")
        assert status == 200 and json.loads(body)["status"] == "ok", body

        # 3. a frozen rung: 503 naming it, watchdog silent. The segmenter is frozen too:
        # alone, a stopped ffmpeg is killed by the supervisor's stall guard at the same
        # 3x segment_length, and the segmenter would report its last segment at once.
        frozen_encoder = encoders(proc.pid)["160x90"]
        frozen = [frozen_encoder, segmenter_of(proc.pid, frozen_encoder)]
        for pid in frozen:
            os.kill(pid, signal.SIGSTOP)
        try:
            def stale() -> dict[str, Any] | None:
                code, text = http_get(url + "healthz")
                return json.loads(text) if code == 503 else None

            report = wait_for(stale, 3 * SEGMENT_LENGTH + 10, "/healthz 503", interval=0.1)
            assert report["stale"] == ["b"] and "b" in report["message"], report
            went_stale = len(systemd.drain())
            observed_until = time.monotonic() + 4 * WATCHDOG_USEC / 2e6
            while time.monotonic() < observed_until:  # an observation window, not a wait
                assert stale() is not None, "rung b recovered while frozen"
                time.sleep(0.1)
            assert "WATCHDOG=1" not in systemd.lines(went_stale), "pinged while stale"
        finally:
            for pid in frozen:
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)
        wait_for(lambda: http_get(url + "healthz")[0] == 200, 30, "/healthz 200 again")
        systemd.wait(lambda m: "WATCHDOG=1" in m, 5, "the pings to resume")

        # 5. reload (the file unchanged: nothing restarts, the protocol still runs)
        before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        mark = len(systemd.drain())
        proc.send_signal(signal.SIGHUP)
        reloading = systemd.wait(lambda m: "RELOADING=1" in m, 10, "RELOADING=1", mark)
        message = systemd.messages[reloading][1]
        usec = int(next(line for line in message if line.startswith("MONOTONIC_USEC="))
                    .split("=", 1)[1])
        assert before <= usec <= time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        systemd.wait(lambda m: "READY=1" in m, 15, "READY=1 after the reload", reloading + 1)
        assert logged(log, "config reloaded")[-1]["restarted_rungs"] == []

        # 6. stop
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, log.read_text()[-3000:]
        received = systemd.lines()
    statuses = [line for line in received if line.startswith("STATUS=")]
    assert any("2/2 rungs up, newest segment" in line for line in statuses), statuses
    assert any("1/2 rungs up" in line for line in statuses), "b frozen, yet 2/2 up"
    order = [line.split("=")[0] for line in received
             if line in ("READY=1", "RELOADING=1", "STOPPING=1", "WATCHDOG=1")]
    # Pings go on while a reload runs (systemd keeps the watchdog armed then): drop those,
    # and collapse repeated pings: the lifecycle as systemd sees it.
    reloading = False
    for i, kind in enumerate(order):
        reloading = kind == "RELOADING" or (reloading and kind != "READY")
        if reloading and kind == "WATCHDOG":
            order[i] = "RELOADING"
    lifecycle = [k for i, k in enumerate(order) if i == 0 or k != order[i - 1]]
    assert lifecycle == ["READY", "WATCHDOG", "RELOADING", "READY", "WATCHDOG", "STOPPING"] \
        or lifecycle == ["READY", "WATCHDOG", "RELOADING", "READY", "STOPPING"], lifecycle
    assert not [p for p in descendants(os.getpid()) if process_name(p) == "ffmpeg"]


def test_reload_applies_only_the_difference(tmp_path: Path) -> None:
    """1. start rungs a and b, one copy destination, window 8, an HTTP origin
    2. an invalid file + SIGHUP: each problem logged, the running config stays, both
       playlists keep advancing
    3. a second copy destination + SIGHUP: it publishes playlists and segments
    4. that destination's settings changed + SIGHUP: its playlists carry on where they
       were (same media sequence, no reset)
    5. index_segment_count 8 -> 4 + SIGHUP: the window shrinks in place
    6. rung b's command changed + SIGHUP: only b restarts (new ffmpeg, DISCONTINUITY in
       its playlist); a keeps its ffmpeg
    Throughout: every playlist obeys RFC 8216 at every 0.1 s poll, /healthz never says
    503, and rung a has contiguous sequence numbers, no discontinuity, no gap in cadence.
    """
    raw = config_yaml(tmp_path, http={"listen": "127.0.0.1", "port": 0})
    config = write(tmp_path / "hlsd.yaml", raw)
    log = tmp_path / "hlsd.log"
    www, www2 = tmp_path / "www", tmp_path / "www2"

    def reload(new: dict[str, Any] | str) -> None:
        if isinstance(new, str):
            config.write_text(new)
        else:
            write(config, new)
        mark = len(systemd.drain())
        proc.send_signal(signal.SIGHUP)
        start = systemd.wait(lambda m: "RELOADING=1" in m, 10, "RELOADING=1", mark)
        systemd.wait(lambda m: "READY=1" in m, 20, "READY=1 after the reload", start + 1)

    def window(path: Path) -> list[int]:
        text = read(path)
        return [s.msn for s in parse_media_text(text).segments] if text else []

    with fake_systemd(tmp_path) as systemd, daemon(config, log, systemd) as proc:
        systemd.wait(lambda m: "READY=1" in m, 30, "READY=1", 0)
        url = wait_for(lambda: [e["url"] for e in logged(log, "http origin listening")], 10,
                       "the origin's URL in the log")[0]
        with PlaylistMonitor({"a": www / "live_a.m3u8", "b": www / "live_b.m3u8",
                              "a2": www2 / "live_a.m3u8", "b2": www2 / "live_b.m3u8"},
                             health_url=url + "healthz") as mon:
            mon.wait_for_more("a", 3)
            mon.wait_for_more("b", 2)
            started = time.monotonic()
            pids = encoders(proc.pid)

            # 2. invalid: refused with reasons, nothing touched
            reload("segment_lenght: 2\n" + yaml.safe_dump({**raw, "segment_length": -1}))
            refused = logged(log, "reload refused: invalid config; the running config stays")
            problems = " ".join(e["problem"] for e in refused)
            assert "segment_lenght" in problems and "segment_length" in problems, problems
            mon.wait_for_more("a", 2)
            mon.wait_for_more("b", 2)
            assert encoders(proc.pid) == pids

            # 3. a destination added
            raw = {**raw, "transfer_profile": ["local", "copy2"],
                   "copy2": {"transfer_type": "copy", "directory": str(www2)}}
            reload(raw)
            mon.wait_for_more("a2", 3)
            mon.wait_for_more("b2", 3)
            wait_for(lambda: (www2 / "live.m3u8").is_file(), 20, "the new master playlist")
            assert logged(log, "config reloaded")[-1]["restarted_rungs"] == []

            # 4. the new destination's settings changed: it restarts, its playlists don't
            listed = window(www2 / "live_a.m3u8")
            reload({**raw, "copy2": {**raw["copy2"], "concurrency": 2}})
            mon.wait_for_more("a2", 2)
            assert window(www2 / "live_a.m3u8")[0] <= listed[-1], "the playlist was reset"

            # 5. the window, in place
            wait_for(lambda: len(window(www / "live_a.m3u8")) >= 8, 20, "a full window of 8")
            raw = {**raw, "index_segment_count": 4}
            reload(raw)
            wait_for(lambda: 3 <= len(window(www / "live_a.m3u8")) <= 4, 10, "a window of 4")
            assert logged(log, "config reloaded")[-1]["restarted_rungs"] == []
            assert encoders(proc.pid) == pids

            # 6. one rung changed
            b_before = mon.newest("b")
            reload({**raw, "b": {"ffmpeg_command": RUNG_B_CHANGED}})
            assert logged(log, "config reloaded")[-1]["restarted_rungs"] == ["b"]
            mon.wait_for_more("b", 2)
            mon.wait_for_more("a", 2)
            after = encoders(proc.pid)
            assert after["192x108"] == pids["192x108"], "rung a was restarted"
            assert after["160x90"] != pids["160x90"], "rung b was not restarted"
            assert any(s.discontinuity for s in mon.segments("b") if s.seq > b_before), \
                "no DISCONTINUITY where b restarted"

            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 0, log.read_text()[-3000:]

    assert mon.unhealthy == [], "/healthz said 503 during a reload"
    # rung a through every reload: contiguous, never a discontinuity, no gap in cadence
    a = mon.segments("a", after=started)
    seqs = [s.seq for s in a]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), seqs
    assert not [s.seq for s in a if s.discontinuity]
    gaps = [round(later.first_seen - s.first_seen, 2) for s, later in itertools.pairwise(a)]
    assert max(gaps) < 2.5 * SEGMENT_LENGTH, gaps
    assert not [p for p in descendants(os.getpid()) if process_name(p) == "ffmpeg"]
