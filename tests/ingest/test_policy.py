"""Which input is on air (hlsd.ingest.policy.Switcher), driven with explicit times.

The clock moves in steps of 0.25 s (exact in binary, so "after 2 s" means exactly 2 s):
each step, every delivering input gives media, then the switcher decides.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import pytest

from hlsd.ingest.policy import (
    CALM,
    FLAP_WINDOW,
    FRESH,
    JOIN_MIN,
    LOST,
    MAX_HOLD,
    SLATE,
    START_GRACE,
    WAITING,
    OnAir,
    Switcher,
)

STEP = 0.25
JOIN = math.ceil(JOIN_MIN / STEP) * STEP  # JOIN_MIN in whole steps


class Run:
    """A switcher and the time; media and decisions one step at a time."""

    def __init__(self, inputs: int, after: float = 1.0, slate: bool = False,
                 listener: bool = False) -> None:
        self.switcher = Switcher(inputs, after, slate, listener, started=0.0)
        self.now = 0.0

    def step(self, delivering: Iterable[int] = ()) -> OnAir:
        self.now += STEP
        for index in delivering:
            self.switcher.media(index, self.now)
        return self.switcher.decide(self.now)

    def until(self, end: float, delivering: Iterable[int] = ()) -> list[tuple[float, OnAir]]:
        """Steps up to and including `end`: (time, on air) of each."""
        inputs = tuple(delivering)
        seen = []
        while self.now < end:
            seen.append((self.now + STEP, self.step(inputs)))
        return seen

    def wait_for(self, target: OnAir, delivering: Iterable[int], limit: float = 200.0) -> float:
        """The time `target` went on air (steps until it does)."""
        inputs = tuple(delivering)
        deadline = self.now + limit
        while self.now < deadline:
            if self.step(inputs) == target:
                return self.now
        raise AssertionError(f"{target!r} never went on air; on air: {self.switcher.on_air!r}")


def first(seen: list[tuple[float, OnAir]], target: OnAir) -> float | None:
    return next((t for t, on_air in seen if on_air == target), None)


# -- at start -------------------------------------------------------------------------------------

def test_a_pull_primary_starts_lost_and_stays_lost_without_slate() -> None:
    run = Run(2)
    assert run.switcher.on_air == LOST
    assert {on_air for _, on_air in run.until(30.0)} == {LOST}


def test_a_listener_primary_starts_waiting_and_keeps_waiting_without_slate() -> None:
    run = Run(1, listener=True)
    assert run.switcher.on_air == WAITING
    assert {on_air for _, on_air in run.until(30.0)} == {WAITING}


def test_a_pull_primary_gets_the_start_grace_plus_after_before_the_slate() -> None:
    after = 1.5
    run = Run(1, after=after, slate=True)
    seen = run.until(10.0)
    assert first(seen, SLATE) == START_GRACE + after
    assert all(on_air == LOST for t, on_air in seen if t < START_GRACE + after)


def test_a_listener_primary_shows_the_slate_at_once() -> None:
    run = Run(1, after=2.0, slate=True, listener=True)
    assert run.switcher.decide(0.0) == SLATE


def test_a_delivering_primary_goes_on_air_once_it_delivered_join_min() -> None:
    run = Run(1)
    run.switcher.media(0, 1.0)
    assert run.switcher.decide(1.0) == LOST
    run.switcher.media(0, 1.25)
    assert JOIN_MIN > 1.25 - 1.0
    assert run.switcher.decide(1.25) == LOST
    run.switcher.media(0, 1.5)
    assert JOIN_MIN <= 1.5 - 1.0
    assert run.switcher.decide(1.5) == 0


def test_a_backup_answering_first_waits_for_the_start_grace_while_the_primary_opens() -> None:
    run = Run(2, slate=True)
    seen = run.until(6.0, delivering={1})
    assert first(seen, 1) == START_GRACE
    assert {on_air for t, on_air in seen if t < START_GRACE} == {LOST}


def test_a_primary_opening_within_the_start_grace_beats_an_earlier_backup() -> None:
    run = Run(2)
    run.until(1.0, delivering={1})  # only the backup so far
    seen = run.until(10.0, delivering={0, 1})
    assert first(seen, 0) == 1.0 + STEP + JOIN  # its first media, then JOIN_MIN
    assert first(seen, 1) is None


def test_a_listener_primary_does_not_hold_back_a_delivering_backup() -> None:
    """No start grace for a listener: its publisher may never come."""
    run = Run(2, listener=True)
    seen = run.until(2.0, delivering={1})
    on_at = first(seen, 1)
    assert on_at is not None and on_at < START_GRACE


# -- loss -----------------------------------------------------------------------------------------

def primary_on_air(inputs: int, after: float = 1.0, slate: bool = False,
                   listener: bool = False, also: Iterable[int] = ()) -> Run:
    run = Run(inputs, after=after, slate=slate, listener=listener)
    run.wait_for(0, delivering={0, *also})
    return run


def test_a_lost_primary_is_replaced_after_exactly_after_seconds_by_the_first_backup() -> None:
    run = primary_on_air(3, after=1.0, also={1, 2})
    run.until(5.0, delivering={0, 1, 2})  # last media from the primary at 5.0
    seen = run.until(7.0, delivering={1, 2})
    assert {on_air for t, on_air in seen if t <= 6.0} == {0}  # 1.0 s without media: alive
    assert first(seen, 1) == 6.25
    assert first(seen, 2) is None


def test_backups_are_taken_in_configured_order_not_by_who_delivered_first() -> None:
    run = primary_on_air(3, also={2})
    run.until(4.0, delivering={0, 2})  # backup 2 has delivered since the start
    run.until(5.0, delivering={0, 1, 2})  # backup 1 only for the last second
    seen = run.until(8.0, delivering={1, 2})
    assert first(seen, 1) is not None and first(seen, 2) is None


def test_a_lost_primary_goes_to_backup_2_when_backup_1_is_silent() -> None:
    run = primary_on_air(3, also={2})
    run.until(5.0, delivering={0, 2})
    seen = run.until(8.0, delivering={2})
    assert first(seen, 2) == 6.25
    assert first(seen, 1) is None


def test_a_preferred_backup_takes_over_from_a_later_one_once_steady() -> None:
    run = primary_on_air(3, also={2})
    run.until(5.0, delivering={0, 2})
    run.wait_for(2, delivering={2})
    back = run.now + STEP
    took_over = run.wait_for(1, delivering={1, 2})
    assert took_over - back == 1.0  # its hold: max(MIN_HOLD, after)


@pytest.mark.parametrize(("slate", "listener", "expected"), [
    (True, False, SLATE), (False, False, LOST), (False, True, WAITING), (True, True, SLATE)])
def test_every_input_lost_gives_the_slate_or_nothing(slate: bool, listener: bool,
                                                     expected: OnAir) -> None:
    run = primary_on_air(2, slate=slate, listener=listener)
    run.until(5.0, delivering={0})
    seen = run.until(10.0)
    assert first(seen, expected) == 6.25  # at once, once the primary counts as lost
    assert {on_air for t, on_air in seen if t > 6.25} == {expected}


# -- return of a preferred input ------------------------------------------------------------------

@pytest.mark.parametrize(("after", "hold"), [(0.5, 1.0), (1.0, 1.0), (2.0, 2.0), (3.5, 3.5)])
def test_a_returning_primary_takes_over_after_being_steady_for_its_hold(after: float,
                                                                        hold: float) -> None:
    run = primary_on_air(2, after=after, also={1})
    run.until(20.0, delivering={0, 1})  # long on air: no flap
    run.wait_for(1, delivering={1})
    run.until(run.now + after + 1.0, delivering={1})  # a clear gap: a new delivery
    back = run.now + STEP
    seen = run.until(back + hold + 2.0, delivering={0, 1})
    assert first(seen, 0) == back + hold
    assert {on_air for t, on_air in seen if t < back + hold} == {1}


def test_a_returning_primary_joins_from_the_slate_after_join_min_not_its_hold() -> None:
    run = primary_on_air(1, after=2.0, slate=True)
    run.until(20.0, delivering={0})
    run.wait_for(SLATE, delivering=())
    run.until(run.now + 5.0)
    back = run.now + STEP
    took_over = run.wait_for(0, delivering={0})
    assert took_over - back == JOIN  # far below its 2 s hold


# -- flapping -------------------------------------------------------------------------------------

def return_delay(run: Run, after: float) -> float:
    """The primary, gone quiet for longer than `after`, returns: seconds until it takes
    over from backup 1."""
    run.until(run.now + after + 1.0, delivering={1})
    back = run.now + STEP
    return run.wait_for(0, delivering={0, 1}) - back


def lose_primary(run: Run, after: float) -> None:
    run.wait_for(1, delivering={1}, limit=after + 1.0)


def test_a_flapping_primary_holds_twice_as_long_each_time_up_to_max_hold() -> None:
    after = 1.0
    run = primary_on_air(2, after=after, also={1})
    delays = []
    for _ in range(6):
        lose_primary(run, after)  # lost again right after taking over: a flap
        delays.append(return_delay(run, after))
    assert delays == [2.0, 4.0, 8.0, 16.0, MAX_HOLD, MAX_HOLD]


def test_the_flap_hold_is_capped_at_max_hold_from_a_long_base_hold() -> None:
    after = 8.0  # base hold 8 s: 16, then 32 capped
    run = primary_on_air(2, after=after, also={1})
    delays = []
    for _ in range(2):
        lose_primary(run, after)
        delays.append(return_delay(run, after))
    assert delays == [16.0, MAX_HOLD]


def test_a_flap_is_seen_whatever_after_is() -> None:
    """1. after: 20 s; the primary takes over and dies a quarter second later.
    2. Its loss is noticed 20 s on, but it delivered for far less than FLAP_WINDOW:
       a flap, so its next hold is 30 s (40 capped), not its base 20 s."""
    after = 20.0
    run = primary_on_air(2, after=after, also={1})
    lose_primary(run, after)
    assert return_delay(run, after) == MAX_HOLD


def test_a_loss_after_the_flap_window_does_not_double_the_hold() -> None:
    after = 1.0
    run = primary_on_air(2, after=after, also={1})
    run.until(run.now + FLAP_WINDOW + 1.0, delivering={0, 1})
    lose_primary(run, after)
    assert return_delay(run, after) == 1.0


def test_the_hold_is_back_to_base_after_calm_seconds_on_air() -> None:
    after = 1.0
    run = primary_on_air(2, after=after, also={1})
    lose_primary(run, after)
    assert return_delay(run, after) == 2.0  # one flap
    run.until(run.now + CALM, delivering={0, 1})
    lose_primary(run, after)  # not a flap: on air for CALM seconds
    assert return_delay(run, after) == 1.0


def test_the_doubled_hold_stays_while_on_air_for_less_than_calm() -> None:
    after = 1.0
    run = primary_on_air(2, after=after, also={1})
    lose_primary(run, after)
    assert return_delay(run, after) == 2.0
    run.until(run.now + CALM / 2, delivering={0, 1})  # past the flap window, short of CALM
    lose_primary(run, after)
    assert return_delay(run, after) == 2.0  # neither doubled again nor reset


# -- a last burst ---------------------------------------------------------------------------------

def last_flush(run: Run, at: float) -> None:
    """A dying reader's last flush: a few chunks read back to back (within 10 ms)."""
    for i in range(5):
        run.switcher.media(0, at + i / 400)


@pytest.mark.parametrize("after", [0.5, 1.0, 2.0, 5.0])
def test_a_single_burst_never_brings_an_input_on_air_from_the_slate(after: float) -> None:
    """1. The primary is lost; the slate is on air.
    2. The primary's reader flushes once more as its input dies (one burst).
    3. Nothing more comes: the slate stays on air throughout (looked at every 10 ms)."""
    run = primary_on_air(1, after=after, slate=True)
    run.until(20.0, delivering={0})
    run.wait_for(SLATE, delivering=())
    burst = run.now + 3.0
    last_flush(run, burst)
    decided = [run.switcher.decide(burst + 0.01 + i / 100) for i in range(int(after * 200))]
    assert set(decided) == {SLATE}


@pytest.mark.parametrize("listener", [False, True])
def test_a_single_burst_at_start_does_not_put_the_primary_on_air(listener: bool) -> None:
    run = Run(1, after=1.0, listener=listener)
    last_flush(run, 0.5)
    decided = [run.switcher.decide(0.5 + i / 100) for i in range(300)]
    assert set(decided) == {WAITING if listener else LOST}


def test_an_input_silent_at_the_moment_of_joining_stays_off_air() -> None:
    """Delivered long enough, but not lately (within `after`, beyond FRESH): no join yet."""
    run = primary_on_air(1, after=2.0, slate=True)
    run.until(20.0, delivering={0})
    run.wait_for(SLATE, delivering=())
    run.until(run.now + 5.0)
    back = run.now
    for i in range(1, 5):  # back for a second (no decision meanwhile), then a pause
        run.switcher.media(0, back + i * STEP)
    paused = back + 1.0
    assert run.switcher.decide(paused + FRESH + 0.01) == SLATE
    assert run.switcher.alive(0, paused + FRESH + 0.01)
    run.switcher.media(0, paused + 0.5)  # delivering again
    assert run.switcher.decide(paused + 0.5) == 0


def test_a_burst_older_than_after_is_never_joinable() -> None:
    run = primary_on_air(1, after=1.0, slate=True)
    run.until(20.0, delivering={0})
    run.wait_for(SLATE, delivering=())
    run.switcher.media(0, 30.0)
    assert run.switcher.decide(31.25) == SLATE
    assert not run.switcher.alive(0, 31.25)
