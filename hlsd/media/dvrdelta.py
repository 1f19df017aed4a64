"""Delta updates of open time-shift spans (RFC 8216bis 6.2.5.1): a span growing to the
live edge advertises CAN-SKIP-UNTIL, and `_HLS_skip=YES` gets its older segments replaced
by one EXT-X-SKIP, so a player reloading a day-long span every target duration downloads
a few lines rather than 86,400 entries. Pure: no I/O, no clock.

The index keeps no DATERANGEs, so `_HLS_skip=v2` is answered as YES (nothing to skip or
report removed) and CAN-SKIP-DATERANGES is not advertised.
"""

from __future__ import annotations

from array import array

from hlsd.media.lowlatency import LL_VERSION, SKIP_FACTOR

__all__ = ["control_line", "skip_line", "skip_until", "skippable"]


def skip_until(target_duration: int) -> float:
    """The Skip Boundary: six target durations, the draft's minimum (as LL-HLS uses)."""
    return float(SKIP_FACTOR * target_duration)


def skippable(durations: array[float], span: range, target_duration: int) -> int:
    """How many leading entries of `span` a delta may skip: those followed by at least the
    Skip Boundary of media. Walks back from the edge only (a day-long span stays cheap)."""
    until, tail = skip_until(target_duration), 0.0
    for i in range(span.stop - 1, span.start - 1, -1):
        if tail >= until:
            return i - span.start + 1
        tail += durations[i]
    return 0


def control_line(target_duration: int) -> str:
    return f"#EXT-X-SERVER-CONTROL:CAN-SKIP-UNTIL={skip_until(target_duration):.3f}"


def skip_line(count: int) -> str:
    return f"#EXT-X-SKIP:SKIPPED-SEGMENTS={count}"


def delta_version(version: int) -> int:
    """EXT-X-SKIP needs protocol version 9."""
    return max(version, LL_VERSION)
