"""Which input is on air: a pure function of when media last came from each (times passed in).

Rules: the on-air input stays while it delivers. Lost (nothing for `after` seconds) → the
first input, in configured order, that delivers; none → the slate (if configured), else
nothing ("lost", or "waiting" for a listener's publisher). A preferred input (earlier in
the order) that comes back takes over once it has delivered steadily for its hold time;
one lost again soon after taking over (a flapping input) must hold twice as long next time.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LOST", "SLATE", "WAITING", "Switcher"]

SLATE = "slate"
LOST = "lost"  # no input delivers, no slate: the playlists wait
WAITING = "waiting"  # the primary is a listener with no publisher (healthy)

START_GRACE = 3.0  # seconds a pull input gets to open and probe before it counts as lost
MIN_HOLD = 1.0  # seconds a preferred input must deliver before it takes over
# From the slate or nothing, an input goes on air once it has delivered for JOIN_MIN and
# is still delivering (media within FRESH): a reader's last flush as its input dies (a
# publisher timed out) is one burst, no return.
JOIN_MIN = 0.3
FRESH = 0.25
MAX_HOLD = 30.0
FLAP_WINDOW = 10.0  # lost again within this long after taking over: a flap
CALM = 60.0  # on air this long: its hold is back to the minimum

OnAir = int | str  # an input's index, or SLATE / LOST / WAITING


@dataclass
class _Clock:
    last: float | None = None  # when media last arrived
    since: float | None = None  # start of the current uninterrupted delivery
    hold: float = MIN_HOLD
    took_over: float | None = None  # when it last went on air


class Switcher:
    def __init__(self, inputs: int, after: float, slate: bool, listener_primary: bool,
                 started: float) -> None:
        self.after = after
        self.slate = slate
        self.listener_primary = listener_primary
        self._started = started
        self._base_hold = max(MIN_HOLD, after)
        self._clocks = [_Clock(hold=self._base_hold) for _ in range(inputs)]
        self.on_air: OnAir = WAITING if listener_primary else LOST
        self._ever = False  # an input has been on air

    def media(self, index: int, now: float) -> None:
        """Media arrived from input `index`."""
        clock = self._clocks[index]
        if clock.last is None or now - clock.last > self.after:
            clock.since = now
        clock.last = now

    def alive(self, index: int, now: float) -> bool:
        last = self._clocks[index].last
        return last is not None and now - last <= self.after

    def idle_for(self, index: int, now: float) -> float | None:
        last = self._clocks[index].last
        return None if last is None else now - last

    def _steady(self, index: int, now: float) -> bool:
        clock = self._clocks[index]
        return self.alive(index, now) and clock.since is not None and \
            now - clock.since >= clock.hold

    def _joinable(self, index: int, now: float) -> bool:
        clock = self._clocks[index]
        return clock.since is not None and clock.last is not None and \
            now - clock.since >= JOIN_MIN and now - clock.last <= FRESH

    def decide(self, now: float) -> OnAir:
        """The input on air from `now` on (changes `on_air`)."""
        current = self.on_air
        if isinstance(current, int):
            if self.alive(current, now):
                clock = self._clocks[current]
                if clock.took_over is not None and now - clock.took_over >= CALM:
                    clock.hold = self._base_hold
                better = next((i for i in range(current) if self._steady(i, now)), None)
                return self._go(current if better is None else better, now)
            clock = self._clocks[current]
            # Lost within FLAP_WINDOW of taking over, judged by its last media (the loss is
            # noticed `after` later, and `after` may be longer than the window).
            if clock.took_over is not None and clock.last is not None and \
                    clock.last - clock.took_over < FLAP_WINDOW:
                clock.hold = min(MAX_HOLD, clock.hold * 2)
        # At start a pull primary gets its time to open: a backup that answers first
        # would go on air only to be replaced a second later.
        starting = not self._ever and not self.listener_primary and \
            now - self._started < START_GRACE
        candidates = range(1 if starting else len(self._clocks))
        best = next((i for i in candidates if self._joinable(i, now)), None)
        if best is not None:
            return self._go(best, now)
        if self.slate and (isinstance(current, int) or current == SLATE
                           or self.listener_primary or now - self._started >= START_GRACE
                           + self.after):
            return self._go(SLATE, now)
        return self._go(WAITING if self.listener_primary else LOST, now)

    def _go(self, choice: OnAir, now: float) -> OnAir:
        if choice != self.on_air and isinstance(choice, int):
            self._clocks[choice].took_over = now
            self._ever = True
        self.on_air = choice
        return choice
