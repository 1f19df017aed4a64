"""Scenario 5: temp_dir out of space, then a copy destination that turns read-only."""

from __future__ import annotations

import errno
import math
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.daemon_util import wait_for
from tests.faults.harness import SEGMENT, Hlsd, copy_profile, fault_config, live_rung, observe
from tests.faults.watcher import Watcher, directory_store

pytestmark = [pytest.mark.faults, pytest.mark.e2e]

RUNG = "a"
FULL_FOR = 10.0  # seconds temp_dir stays full
READ_ONLY_FOR = 30.0  # seconds the copy destination stays read-only
FIRST_DELAY = 0.5  # hlsd's encoder restart backoff: 0.5 s, doubling


def fill(directory: Path) -> Path:
    """Write a file until the filesystem is full (ENOSPC); returns it."""
    filler = directory / "filler"
    block = b"\0" * 65536
    with filler.open("wb", buffering=0) as fh:
        while True:
            try:
                fh.write(block)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
                if len(block) == 1:
                    return filler
                block = block[: len(block) // 2]


def remount(point: Path, mode: str) -> None:
    """`mount -o remount,MODE`; a file open for writing makes ro busy for a moment."""
    def done() -> bool:
        return subprocess.run(["mount", "-o", f"remount,{mode}", str(point)],
                              capture_output=True).returncode == 0

    wait_for(done, 10, f"remount {mode} {point}", interval=0.05)


def test_temp_dir_full_then_destination_read_only(
        tmp_path: Path, tmpfs: Callable[[str, str], Path],
        daemons: Callable[..., Hlsd], report: Callable[..., None]) -> None:
    """1. `hlsd run`, one live rung (1 s segments); temp_dir (which also holds the state
       file) on a 4 MB tmpfs; two copy destinations: `www` on a tmpfs of its own, `disk`
       on the ordinary disk; the RFC 8216 watcher on both
    2. right after a segment appears, temp_dir is filled to the last byte; 10 s later the
       filler is removed
    3. while full: one warning per restart attempt that names the cause ("No space left
       on device"), restarts spaced by the growing backoff (no crash loop), at most one
       "cannot save state" line, no playlist broken; after the space returns, segments
       resume (after the backoff then running) with a DISCONTINUITY and no number skipped
    4. `www` is remounted read-only for 30 s, then read-write: `disk` never skips nor
       stalls; `www`'s playlists stand still, valid, and catch up afterwards; a few
       warnings, not one per segment
    5. SIGTERM: exit 0
    """
    work = tmpfs("work", "4m")
    www = tmpfs("www", "16m")
    disk = tmp_path / "disk"
    config = fault_config(tmp_path / "hlsd.yaml", tmp_path, {RUNG: live_rung()},
                          {"www": copy_profile(www / "live"), "disk": copy_profile(disk)},
                          temp_dir=str(work))
    hlsd = daemons(config, tmp_path / "hlsd.log").start()
    with Watcher([directory_store("www", www / "live"), directory_store("disk", disk)],
                 [RUNG]) as watcher:
        track, www_track = watcher.track("disk", RUNG), watcher.track("www", RUNG)

        def healthy() -> None:
            hlsd.alive()
            watcher.check()

        watcher.wait_segments("www", RUNG, 3, timeout=30, alive=hlsd.alive)
        # 2. full right after a segment: the daemon has news for its state file.
        watcher.wait_segments("disk", RUNG, 1, after=time.monotonic(), alive=hlsd.alive)
        filler = fill(work)
        full_at = time.monotonic()
        newest_before = track.newest
        hlsd.wait_event(3 * SEGMENT + 10, "a warning naming the full disk", since=full_at,
                        segmenter_error=lambda e: "No space left on device" in str(e or ""))
        observe(FULL_FOR - (time.monotonic() - full_at), healthy)
        filler.unlink()
        freed_at = time.monotonic()

        def resumed() -> object:
            healthy()
            return track.first_after(freed_at, discontinuity=True)

        wait_for(resumed, 45, "segments after the space returned")
        join = track.first_after(freed_at, discontinuity=True)
        assert join is not None
        watcher.wait_segments("www", RUNG, 2, after=join.at, timeout=20, alive=hlsd.alive)

        # 4. the copy destination turns read-only.
        remount(www, "ro")
        ro_at = time.monotonic()
        newest_at_ro = www_track.newest
        observe(READ_ONLY_FOR, healthy)
        remount(www, "rw")
        rw_at = time.monotonic()

        def caught_up() -> bool:
            healthy()
            return www_track.newest >= track.newest - 1 and www_track.newest > newest_at_ro

        wait_for(caught_up, 30, "www caught up after read-only")
        back = www_track.first_after(rw_at)
        caught_up_at = time.monotonic()
        observe(2 * SEGMENT, healthy)
        code = hlsd.stop()
    watcher.check()
    assert code == 0, hlsd.tail()

    full_events = hlsd.events(full_at, join.at)
    starts = [e for e in full_events if e["event"] == "encoder started"]
    restarts = [e for e in full_events if e["event"] == "encoder pipeline ended; restarting"]
    warnings = [e for e in full_events if e["level"] in ("warning", "error")]
    state_errors = [e for e in full_events if e["event"] == "cannot save state"]
    naming_cause = [e for e in restarts if "No space left on device" in
                    str(e.get("segmenter_error"))]
    last_delay = restarts[-1]["delay"] if restarts else 0.0
    report("temp_dir full", full_for=freed_at - full_at,
           detected=naming_cause[0]["at"] - full_at if naming_cause else None,
           attempts=len(starts), delays=[e["delay"] for e in restarts],
           warnings=len(warnings), state_errors=len(state_errors),
           lines=len([e for e in full_events if e.get("rung") == RUNG]),
           recovery=join.at - freed_at, gaps=len(track.gaps))
    ro_events = hlsd.events(ro_at)
    www_warnings = [e for e in ro_events if e.get("destination") == "www"
                    and e["level"] in ("warning", "error")]
    assert back is not None
    report("copy read-only", read_only_for=rw_at - ro_at,
           stood_still=www_track.longest_wait(ro_at, rw_at), recovery=back.at - rw_at,
           caught_up=caught_up_at - rw_at, missing=www_track.missing,
           warnings=len(www_warnings),
           other_longest_wait=track.longest_wait(ro_at, caught_up_at), other_gaps=len(track.gaps))

    # temp_dir full: each attempt says why, once; the restarts back off, no crash loop.
    assert naming_cause, [e["event"] for e in warnings]
    assert len(warnings) - len(state_errors) <= len(restarts), [e["event"] for e in warnings]
    assert len(state_errors) <= 1, state_errors
    assert len(starts) <= 2 + math.log2(FULL_FOR / FIRST_DELAY), [e["at"] for e in starts]
    assert join.seq > newest_before and not track.gaps, track.gaps
    startup = 2 * SEGMENT + 1.0  # ffmpeg start, a segment's worth of media, the watcher
    assert join.at - freed_at <= last_delay + startup, (join.at - freed_at, last_delay)
    # read-only: the other destination never noticed; www stood still, then caught up.
    assert not track.gaps
    assert track.longest_wait(ro_at, caught_up_at) <= 2.5 * SEGMENT
    assert all(s.seq <= newest_at_ro + 1 for s in www_track.order if ro_at + 1 < s.at < rw_at)
    assert back.discontinuity and www_track.missing > 0
    assert back.at - rw_at <= 2 * SEGMENT + 3.0
    assert len(www_warnings) <= 5, [e["event"] for e in www_warnings]
