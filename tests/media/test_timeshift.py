"""hlsd.media.timeshift: the times a `?start=`/`?end=` query may give, and the master
that carries a span to its variants."""

from __future__ import annotations

import pytest

from hlsd.media.timeshift import Span, SpanError, master_for_span, parse_span, parse_time

NOW = 1_780_000_000.0


@pytest.mark.parametrize(("text", "value"), [
    ("now", NOW), ("now-30", NOW - 30), ("now-0.5", NOW - 0.5),
    ("1779999000", 1_779_999_000.0), ("1779999000.25", 1_779_999_000.25),
    ("2026-05-28T20:26:40Z", 1_780_000_000.0),
    ("2026-05-28T22:26:40+02:00", 1_780_000_000.0),
    ("2026-05-28T22:26:40 02:00", 1_780_000_000.0),  # '+' decoded from a query as ' '
    ("2026-05-28T20:26:40", 1_780_000_000.0),  # no offset: UTC
])
def test_times(text: str, value: float) -> None:
    assert parse_time(text, NOW) == pytest.approx(value)


@pytest.mark.parametrize(("start", "end", "why"), [
    ("yesterday", None, "no time"), ("now+5", None, "no time"), ("", None, "no time"),
    ("now-10", "now-20", "end must be after start"), ("now-10", "now-10", "after start"),
    ("now-10", "soon", "no time"), (str(NOW + 60), None, "future"),
])
def test_spans_refused(start: str, end: str | None, why: str) -> None:
    with pytest.raises(SpanError, match=why):
        parse_span(start, end, NOW)


def test_span_resolves_relative_times_once() -> None:
    span = parse_span("now-40", "now-20", NOW)
    assert span == Span(NOW - 40, NOW - 20)
    assert span.query() == f"start={NOW - 40:.3f}&end={NOW - 20:.3f}"
    assert parse_span("now-30", None, NOW).query() == f"start={NOW - 30:.3f}"


def test_master_carries_the_span_to_variants_and_renditions_not_iframes() -> None:
    master = "\n".join([
        "#EXTM3U", '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="es",URI="live_es.m3u8"',
        '#EXT-X-STREAM-INF:BANDWIDTH=1000,AUDIO="aud"', "live_hi.m3u8",
        "#EXT-X-STREAM-INF:BANDWIDTH=500", "https://b.example.com/live_lo.m3u8?x=1",
        '#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=100,URI="live_hi_iframes.m3u8"', ""])
    text = master_for_span(master, Span(100.0, None))
    assert "live_hi.m3u8?start=100.000\n" in text
    assert "https://b.example.com/live_lo.m3u8?x=1&start=100.000\n" in text
    assert 'URI="live_es.m3u8?start=100.000"' in text
    assert 'URI="live_hi_iframes.m3u8"' in text
