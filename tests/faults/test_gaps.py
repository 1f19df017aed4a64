"""EXT-X-GAP: one rung's encoder down in a per_rung ladder while the others go on — its
playlist keeps pace with GAP entries (a player skips rather than stalls), then real
segments resume. Real ffmpeg and hlsd-segmenter, under the RFC 8216 watcher."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

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
from tests.faults.watcher import POLL, Seen, Watcher, directory_store

pytestmark = [pytest.mark.faults, pytest.mark.e2e]

SIBLINGS = ["g0", "g1"]
VICTIM = "gv"
KILLING = 6.0  # seconds of phase 2 during which every new encoder of the victim is killed
BEHIND_MAX = 3  # MSNs the victim's playlist may trail its siblings' (the rule's ~2, plus
#                 a poll and a publication in between)


@dataclass
class Outage:
    kind: str
    at: float
    last_fault: float = 0.0  # the last SIGKILL of phase 2 (its restarts may flush a bit)
    behind: list[int] = field(default_factory=list)  # siblings' newest - victim's, per poll
    back: Seen | None = None  # the first segment of the victim's encoder that stays

    @property
    def lasted(self) -> float:
        assert self.back is not None
        return self.back.at - self.at


def test_a_rung_s_encoder_down_lists_gaps_never_a_stall(
        tmp_path: Path, daemons: Callable[..., Hlsd], report: Callable[..., None]) -> None:
    """1. `hlsd run`: three live rungs, each its own encoder (per_rung), 1 s segments, to
       a copy destination, under the watcher
    2. phase 1: the victim's encoder is SIGSTOPped (a hang, found by the stall guard
       after 3 segment lengths, then restarted); phase 2: it is SIGKILLed, and every
       encoder restarted for it too, for 6 s (backoff 0.5, 1, 2, 4 s)
    3. meanwhile its playlist keeps advancing with #EXT-X-GAP entries, named as its
       segments would be, never stored: its newest MSN never trails the siblings' by
       more than 3 at any poll; no MSN is skipped
    4. each time, real segments resume (a DISCONTINUITY where the new encoder's media
       begins) and keep coming; the siblings never get a gap, a jump or a discontinuity
    5. no warning but the restarts; SIGTERM: exit 0"""
    www = tmp_path / "www"
    rungs = [*SIBLINGS, VICTIM]
    config = fault_config(tmp_path / "hlsd.yaml", tmp_path, dict.fromkeys(rungs, live_rung()),
                          {"www": copy_profile(www)})
    hlsd = daemons(config, tmp_path / "hlsd.log").start()
    outages: list[Outage] = []
    with Watcher([directory_store("www", www)], rungs) as watcher:
        victim = watcher.track("www", VICTIM)

        def healthy() -> None:
            hlsd.alive()
            watcher.check()

        def behind() -> int:
            return max(watcher.newest("www", r) for r in SIBLINGS) - watcher.newest("www",
                                                                                   VICTIM)

        def resumed(outage: Outage) -> Seen | None:
            """The first segment of the victim's last encoder (its last DISCONTINUITY: an
            encoder killed just after it started may flush a first segment too), once two
            more followed."""
            healthy()
            outage.behind.append(behind())
            real = [s for s in victim.order if s.at > outage.last_fault and not s.gap]
            starts = [i for i, s in enumerate(real) if s.discontinuity]
            return real[starts[-1]] if starts and len(real) >= starts[-1] + 3 else None

        for rung in rungs:
            watcher.wait_segments("www", rung, 3, timeout=40, alive=hlsd.alive)
        started = time.monotonic()

        # Phase 1: a hang.
        encoder = wait_for(lambda: hlsd.pipeline(VICTIM), 20, "the victim's pipeline")[0]
        outage = Outage("SIGSTOP", time.monotonic())
        outage.last_fault = outage.at
        os.kill(encoder.pid, signal.SIGSTOP)
        outages.append(outage)
        outage.back = wait_for(lambda: resumed(outage), 40, "the victim back after its hang")

        # Phase 2: killed, and killed again as it comes back, for KILLING seconds.
        outage = Outage("SIGKILL", time.monotonic())
        outages.append(outage)
        killed: set[int] = set()
        while time.monotonic() - outage.at < KILLING:
            pipeline = hlsd.pipeline(VICTIM)
            if pipeline is not None and pipeline[0].pid not in killed:
                os.kill(pipeline[0].pid, signal.SIGKILL)
                killed.add(pipeline[0].pid)
                outage.last_fault = time.monotonic()
            observe(0.05, healthy, lambda: outage.behind.append(behind()))
        outage.back = wait_for(lambda: resumed(outage), 40, "the victim back after the kills")
        for rung in SIBLINGS:
            watcher.wait_segments("www", rung, 2, after=time.monotonic(), timeout=20,
                                  alive=hlsd.alive)
        code = hlsd.stop()
    watcher.check()
    assert code == 0, hlsd.tail()

    listed = sorted(victim.seen)
    assert listed == list(range(listed[0], listed[-1] + 1)), "an MSN was skipped"
    assert not victim.gaps, victim.gaps  # (sequence jumps, not EXT-X-GAP)
    for outage in outages:
        assert outage.back is not None
        gaps = [s for s in victim.order if s.gap and outage.at < s.at <= outage.back.at]
        assert len(gaps) >= 2, (outage.kind, gaps)
        assert all(s.uri == f"live_{VICTIM}-{s.seq:05d}.ts" for s in gaps)
        assert not any((www / s.uri).exists() for s in gaps)
        assert outage.back.discontinuity, outage.back
        assert max(outage.behind) <= BEHIND_MAX, (outage.kind, outage.behind)
        # Never stuck: a restarting rung is given 1.5 segments after its siblings' next
        # segment, and its last one may come up to half a segment before theirs (an encoder
        # killed flushes what it had); plus the watcher's view: each of the two times seen
        # up to a poll late, and polls late themselves on a loaded machine (CI rehearsals:
        # 3.00 s, 3.203 s, 3.403 s: whole polls past 3 s). Measured against the siblings'
        # own longest wait in the same time, not the clock alone: when their segments come
        # late, the gap filler, which counts from them, is late as much.
        siblings = max(watcher.track("www", r).longest_wait(outage.at, outage.back.at)
                       for r in SIBLINGS)
        assert victim.longest_wait(outage.at, outage.back.at) <= (
            siblings + 2 * SEGMENT + 3 * POLL), (outage.kind, siblings)
    for rung in SIBLINGS:
        track = watcher.track("www", rung)
        assert not any(s.gap for s in track.order) and not track.gaps, rung
        assert not track.discontinuities(started), rung
    events = hlsd.events(started)
    late = [e for e in events if e["event"] == "late segment dropped: a gap took its number"]
    others = [e["event"] for e in warnings_about(events)
              if e["event"] != "encoder pipeline ended; restarting"]
    assert all(e == "child ignored SIGTERM; killing" for e in others), others
    for outage in outages:
        assert outage.back is not None
        report(f"EXT-X-GAP, victim {outage.kind}",
               outage=outage.lasted, gaps=sum(1 for s in victim.order if s.gap
                                              and outage.at < s.at <= outage.back.at),
               behind_max=max(outage.behind),
               longest_wait=victim.longest_wait(outage.at, outage.back.at),
               siblings_longest_wait=max(watcher.track("www", r).longest_wait(
                   outage.at, outage.back.at) for r in SIBLINGS),
               window=WINDOW)
    report("EXT-X-GAP totals", late_dropped=len(late),
           gaps=sum(1 for s in victim.order if s.gap), real=sum(1 for s in victim.order
                                                                 if not s.gap))
