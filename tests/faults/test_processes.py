"""Scenarios 2 and 3: children killed (SIGKILL) and hung (SIGSTOP) under a running daemon."""

from __future__ import annotations

import os
import random
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from statistics import median
from typing import Any

import pytest

from tests.daemon_util import wait_for
from tests.faults.harness import (
    SEGMENT,
    ChildProcess,
    Hlsd,
    copy_profile,
    fault_config,
    live_rung,
    observe,
    warnings_about,
)
from tests.faults.watcher import POLL, Seen, Track, Watcher, directory_store

pytestmark = [pytest.mark.faults, pytest.mark.e2e]

KILLS = 10  # of each kind: encoder, segmenter
# Kills are spread over several rungs, each with its own backoff (0.5 s doubling, reset
# only after a healthy minute): 10 kills in a row on one rung would wait 0.5+1+...+30 s
# = ~150 s in backoff alone, more than the CI budget allows for this test.
KILL_RUNGS = ["k0", "k1", "k2", "k3", "k4"]
HANG_ENCODER = "hang_enc"  # its encoder gets SIGSTOP
HANG_SEGMENTER = "hang_seg"  # its segmenter gets SIGSTOP
STALL_AFTER = 3 * SEGMENT  # hlsd's stall guard: no segment for 3 x segment_length
STALL_TICK = 1.0  # the guard looks once a second
SEGMENTER_GRACE = 5.0  # a segmenter still running this long after its encoder died: hung
RESTART_LINE = "encoder pipeline ended; restarting"


@dataclass
class Fault:
    rung: str
    kind: str  # "encoder" | "segmenter" (SIGKILL), "stop encoder" | "stop segmenter"
    pid: int
    at: float
    newest: int  # the rung's newest listed sequence number at that moment
    join: Seen | None = None
    restart: dict[str, Any] | None = None

    @property
    def recovery(self) -> float:
        assert self.join is not None
        return self.join.at - self.at

    @property
    def delay(self) -> float:
        assert self.restart is not None
        return float(self.restart["delay"])


def test_children_killed_and_hung(tmp_path: Path, daemons: Callable[..., Hlsd],
                                  report: Callable[..., None]) -> None:
    """1. `hlsd run` with seven one-rung encoders (per_rung mode, 1 s segments) to a copy
       destination, under the RFC 8216 watcher
    2. at random moments (seeded), SIGKILL an encoder 10 times and a segmenter 10 times,
       spread over five rungs (always the rung with the fewest kills, once it has
       recovered from the last one)
    3. meanwhile, SIGSTOP one rung's encoder and another rung's segmenter (hangs)
    4. each kill: the rung's next segment carries #EXT-X-DISCONTINUITY, is numbered
       after every segment listed before, and appears within 2 segment lengths after the
       backoff the daemon logged; each hang: detected by the stall guard (3 segment
       lengths), the stopped process killed, the rung back within the same 2 segment
       lengths after detection and backoff; no stopped process is left
    5. one warning per restart; nothing skipped; SIGTERM: exit 0
    """
    rng = random.Random(2)
    www = tmp_path / "www"
    rungs = [*KILL_RUNGS, HANG_ENCODER, HANG_SEGMENTER]
    config = fault_config(tmp_path / "hlsd.yaml", tmp_path,
                          dict.fromkeys(rungs, live_rung()), {"www": copy_profile(www)})
    hlsd = daemons(config, tmp_path / "hlsd.log").start()
    faults: list[Fault] = []
    hangs: list[Fault] = []

    with Watcher([directory_store("www", www)], rungs) as watcher:
        def healthy() -> None:
            hlsd.alive()
            watcher.check()

        def track(rung: str) -> Track:
            return watcher.track("www", rung)

        for rung in rungs:
            watcher.wait_segments("www", rung, 2, timeout=40, alive=hlsd.alive)
        started = time.monotonic()

        killed: set[int] = set()
        last: dict[str, Fault] = {}

        def ready(rung: str) -> tuple[ChildProcess, ChildProcess] | None:
            fault = last.get(rung)
            if fault is not None and track(rung).first_after(fault.at, discontinuity=True) \
                    is None:
                return None
            pipeline = hlsd.pipeline(rung)
            if pipeline is None or {c.pid for c in pipeline} & killed:
                return None
            return pipeline

        def inject(rung: str, kind: str, child: ChildProcess, sig: int) -> Fault:
            fault = Fault(rung, kind, child.pid, time.monotonic(), track(rung).newest)
            os.kill(child.pid, sig)
            killed.add(child.pid)
            last[rung] = fault
            return fault

        kinds = ["encoder"] * KILLS + ["segmenter"] * KILLS
        rng.shuffle(kinds)
        hang_at = {rng.randrange(2, 8): HANG_ENCODER, rng.randrange(10, 16): HANG_SEGMENTER}
        for i, kind in enumerate(kinds):
            if i in hang_at:
                rung = hang_at[i]
                encoder, segmenter = wait_for(lambda r=rung: ready(r), 20, f"{rung} running")
                child = encoder if rung == HANG_ENCODER else segmenter
                hangs.append(inject(rung, f"stop {child.name}", child, signal.SIGSTOP))

            def candidates() -> list[str]:
                healthy()
                return [r for r in KILL_RUNGS if ready(r)]

            choices = wait_for(candidates, 60, "a rung ready for the next kill")
            fewest = min(sum(f.rung == r for f in faults) for r in choices)
            rung = rng.choice([r for r in choices if sum(f.rung == r for f in faults) == fewest])
            observe(rng.uniform(0, 0.8 * SEGMENT), healthy)  # a random moment
            pipeline = ready(rung)
            assert pipeline is not None
            child = pipeline[0] if kind == "encoder" else pipeline[1]
            faults.append(inject(rung, kind, child, signal.SIGKILL))

        def recovered() -> bool:
            healthy()
            return all(track(f.rung).first_after(f.at, discontinuity=True) is not None
                       for f in faults + hangs)

        wait_for(recovered, 60, "every rung back after its last fault")
        for rung in rungs:
            watcher.wait_segments("www", rung, 1, after=time.monotonic(), timeout=20,
                                  alive=hlsd.alive)
        left_stopped = hlsd.stopped_children()
        code = hlsd.stop()
    watcher.check()
    assert code == 0, hlsd.tail()
    assert not left_stopped, f"processes left stopped: {left_stopped}"

    events = hlsd.events(started)
    for fault in faults + hangs:
        fault.join = track(fault.rung).first_after(fault.at, discontinuity=True)
        fault.restart = next(e for e in events if e["event"] == RESTART_LINE
                             and e["rung"] == fault.rung and e["at"] > fault.at)
    after_backoff = [f.recovery - f.delay for f in faults]
    by_kind = {kind: [f for f in faults if f.kind == kind] for kind in ("encoder", "segmenter")}
    figures: dict[str, Any] = {}
    for kind, group in by_kind.items():
        figures[f"{kind}_recovery_max"] = max(f.recovery for f in group)
        figures[f"{kind}_after_backoff_median"] = median(f.recovery - f.delay for f in group)
        figures[f"{kind}_after_backoff_max"] = max(f.recovery - f.delay for f in group)
    figures["delays"] = sorted(round(f.delay, 2) for f in faults)
    report("SIGKILL x20", kills=len(faults), **figures,
           discontinuities=sum(len(track(r).discontinuities(started)) for r in KILL_RUNGS),
           warnings=len(warnings_about(events)), duration=time.monotonic() - started)
    for hang in hangs:
        assert hang.restart is not None
        report(f"SIGSTOP {hang.kind.split()[1]}",
               detected=hang.restart["at"] - hang.at, stalled_for=hang.restart.get("stalled_for"),
               delay=hang.delay, recovery=hang.recovery,
               after_detection_and_backoff=hang.recovery - (hang.restart["at"] - hang.at)
               - hang.delay)

    for fault in faults + hangs:
        assert fault.join is not None
        assert fault.join.seq > fault.newest, f"{fault}: number reused"
    # Each restart shows as exactly one DISCONTINUITY, its own.
    for rung in rungs:
        restarts = [f for f in faults + hangs if f.rung == rung]
        assert len(track(rung).discontinuities(started)) == len(restarts), rung
        assert len({f.join.seq for f in restarts if f.join}) == len(restarts), rung
        # A number jump only where a restarted rung rejoins the ladder's numbering.
        joins = {f.join.seq for f in restarts if f.join is not None}
        assert all(new in joins for _, _, new in track(rung).gaps), (rung, track(rung).gaps)
    # "Within 2 segment lengths after the backoff", plus the watcher's own poll interval.
    bound = 2 * SEGMENT + POLL
    slow = [(f.rung, f.kind, round(f.recovery, 2), f.delay) for f, late
            in zip(faults, after_backoff, strict=True) if late > bound]
    assert not slow, f"recovered later than {bound} s after the backoff: {slow}"
    for hang in hangs:
        assert hang.restart is not None and hang.restart.get("stalled_rung") == hang.rung
        grace = SEGMENTER_GRACE if hang.kind == "stop hlsd-segmenter" else 0.0
        # Counted from the last segment, which came before the SIGSTOP; a loaded machine
        # may run the guard's once-a-second look a little late.
        assert hang.restart["at"] - hang.at <= STALL_AFTER + STALL_TICK + grace + 1.0
        detected = hang.restart["at"] - hang.at
        assert hang.recovery - detected - hang.delay <= bound, hang
        assert not Path(f"/proc/{hang.pid}").exists(), f"stopped process {hang.pid} left"
    # The log: one warning per restart (a hung segmenter adds the line naming it).
    restarts = [e for e in events if e["event"] == RESTART_LINE]
    assert len(restarts) == len(faults) + len(hangs)
    hung = [e for e in events if e["event"] == "segmenter hung; killing it"]
    assert len(hung) == 1 and hung[0]["rung"] == HANG_SEGMENTER
    # Nothing else warns, but for a child slow to obey SIGTERM on a loaded machine (part
    # of the same restart): one line per restart, not a flood.
    others = [e["event"] for e in warnings_about(events)
              if e["event"] not in (RESTART_LINE, "segmenter hung; killing it")]
    assert all(e == "child ignored SIGTERM; killing" for e in others), others
    assert len(others) <= len(restarts) // 10, others
