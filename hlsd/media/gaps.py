"""Which segments a rung of a live ladder could not produce, and when to say so: their
numbers are listed as EXT-X-GAP entries (RFC 8216bis §4.4.4.7), so the rung's playlist
keeps pace with its siblings and a player (or another pathway) skips instead of stalling.
Pure: time is passed in (one monotonic clock, seconds).

The rule: segment N of rung R is missing once another rung has produced N and R has not
by `first(N) + lag(R) + grace`, where
- `first(N)` is when the first rung of the ladder produced N;
- `lag(R)` is how late R's own recent segments came after the first rung's (the largest
  of its last LAG_SAMPLES): per-rung encoders cut the same grid at slightly different
  moments, and a rung steadily a little late is not missing anything;
- `grace` is one segment (N's duration, at least `segment_length`).
While R's encoder is being restarted (from the restart until its first segment), a number
its siblings produced before the restart is missing at once (the old run is over, the new
one numbers after it), a later one at `first(N) + RESTART_GRACE x grace`: the new encoder's
first segment also carries its start-up time (up to half a segment), and should not be
lost to a gap; the old run's lag says nothing of the new one's. While R reports parts of
N (LL-HLS), N is on its way: the grace runs from its newest part.

Numbers are declared missing in order, per rung. A rung gets none before its first segment
of this run (its pace is unknown), nor a ladder of one rung (no sibling shows the pace).
A segment whose number was declared missing is late: it is dropped, never listed out of
order. A rung that comes back after a jump of at most `window` numbers (a restarted
encoder numbered after its siblings' newest) gets the numbers between as gaps; a longer
jump is left to the playlist, which starts again with a discontinuity.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field

LAG_SAMPLES = 4
# A restarted encoder's first segment may come this many segments after its siblings'
# (their segment ends just after the restart; its own also waited for the start-up).
# More protects a slower start-up, and holds a restarting rung's playlist longer.
RESTART_GRACE = 1.5
KEEP = 4096  # sequence numbers remembered: far more than any window
KEEP_ALL_JUMP = 6  # the longest jump filled when playlists keep everything (window 0)


@dataclass(frozen=True)
class Missing:
    """Segment `seq` of `rung`, to be listed as a gap of `duration` (its siblings')."""

    rung: str
    seq: int
    duration: float


@dataclass
class _Rung:
    listed: int = -1  # the newest number handed on, as a segment or as a gap
    produced: bool = False  # a segment in this run: the rung's pace is known
    restarted: float | None = None  # when its encoder was restarted, no segment since
    lags: deque[float] = field(default_factory=lambda: deque(maxlen=LAG_SAMPLES))
    working: tuple[int, float] | None = None  # (seq, when) of its newest part


class LadderProgress:
    """Every rung's progress through the ladder's sequence numbers."""

    def __init__(self, segment_length: float, window: int) -> None:
        self.segment_length = segment_length
        self.window = window  # index_segment_count: the longest jump filled with gaps
        self._rungs: dict[str, _Rung] = {}
        # seq -> (when the first rung produced it, its duration there)
        self._first: OrderedDict[int, tuple[float, float]] = OrderedDict()

    @property
    def rungs(self) -> list[str]:
        return list(self._rungs)

    def set_rungs(self, names: Iterable[str]) -> None:
        """The ladder's rungs (a reload may add or remove some); those that stay go on."""
        self._rungs = {name: self._rungs.get(name) or _Rung() for name in names}

    def listed(self, rung: str, seq: int) -> bool:
        """Was number `seq` of `rung` handed on already? (A segment bearing it is late.)"""
        state = self._rungs.get(rung)
        return state is not None and len(self._rungs) > 1 and seq <= state.listed

    def segment(self, rung: str, seq: int, duration: float, now: float) -> list[Missing] | None:
        """`rung` produced segment `seq`: the gaps to list before it, or None if it is late
        (a gap took its number; drop it)."""
        first = self._first.get(seq)
        if first is None:
            first = self._first[seq] = (now, duration)
            while len(self._first) > KEEP:
                self._first.popitem(last=False)
        state = self._rungs.get(rung)
        if state is None:
            return []
        state.lags.append(now - first[0])  # a late segment tells the rung's pace too
        if self.listed(rung, seq):
            return None
        jump = seq - state.listed - 1
        gaps = []
        if len(self._rungs) > 1 and state.produced and 0 < jump <= (self.window
                                                                      or KEEP_ALL_JUMP):
            gaps = [Missing(rung, n, self._duration(n)) for n in range(state.listed + 1, seq)]
        state.listed, state.produced, state.restarted, state.working = seq, True, None, None
        return gaps

    def part(self, rung: str, seq: int, now: float) -> bool:
        """`rung` wrote a part of segment `seq`; False if that number is listed already
        (the part is late as its segment will be: drop it)."""
        if self.listed(rung, seq):
            return False
        state = self._rungs.get(rung)
        if state is not None:
            state.working = (seq, now)
        return True

    def restarting(self, rung: str, now: float) -> None:
        """The encoder of `rung` is being (re)started: every segment of its old run has
        come; the new one numbers after its siblings' newest, and starts later."""
        state = self._rungs.get(rung)
        if state is not None:
            state.restarted = now

    def due(self, now: float) -> list[Missing]:
        """The numbers declared missing by `now`, each rung's in order (and handed on)."""
        missing = []
        for name, state in self._rungs.items():
            while (at := self._deadline(state)) is not None and at <= now:
                state.listed += 1
                missing.append(Missing(name, state.listed, self._duration(state.listed)))
        return missing

    def next_due(self) -> float | None:
        """When the next number may be declared missing (None: none may, until a rung
        produces another segment)."""
        deadlines = [self._deadline(state) for state in self._rungs.values()]
        return min((at for at in deadlines if at is not None), default=None)

    def _deadline(self, state: _Rung) -> float | None:
        seq = state.listed + 1
        first = self._first.get(seq)
        if first is None or not state.produced or len(self._rungs) < 2:
            return None
        grace = max(first[1], self.segment_length)
        if state.restarted is None:
            at = first[0] + max(state.lags, default=0.0) + grace
        elif first[0] <= state.restarted:
            at = state.restarted
        else:
            at = first[0] + RESTART_GRACE * grace
        if state.working is not None and state.working[0] == seq:
            at = max(at, state.working[1] + grace)
        return at

    def _duration(self, seq: int) -> float:
        first = self._first.get(seq)
        return first[1] if first is not None else self.segment_length
