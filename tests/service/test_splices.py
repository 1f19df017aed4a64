"""A live input's sections reach the cue desk and the metrics (hlsd.service.splices
.LiveSplices), without processes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from structlog.testing import capture_logs

from hlsd.media import daterange, scte35
from hlsd.media.splices import live_splice
from hlsd.publish.cues import CueDesk
from hlsd.service.metrics import Metrics
from hlsd.service.splices import LiveSplices
from tests.service.test_metrics import scrape

T0 = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)


def test_a_section_opens_a_break_and_bad_ones_are_counted_and_logged_once() -> None:
    """1. a splice_insert (pre-roll 4 s) and two repeats: logged once as opening
    2. the first segment dated at or after its point carries the DATERANGE
    3. three bursts of bad sections within seconds: counted 3, one warning"""
    desk, metrics = CueDesk(("daterange",)), Metrics()
    sink = LiveSplices(desk, metrics, exact=False)
    section = scte35.splice_insert(11, 400_000, 90_000 * 4)
    info = scte35.parse(section)
    with capture_logs() as logs:
        for _ in range(3):
            sink.splice(live_splice(info, T0.timestamp(), 40_000))
        for _ in range(3):
            sink.splice_errors(1)
    assert [e["splice"] for e in logs if e["event"] == "SCTE-35 from the input"] == [
        "opens", "repeat", "repeat"]
    assert [e["log_level"] for e in logs if e["event"] == "SCTE-35 from the input"] == [
        "info", "debug", "debug"]
    assert [e["count"] for e in logs if e["event"].startswith("SCTE-35 sections")] == [1]
    assert scrape(metrics)[("hlsd_scte35_errors_total", ())] == 3
    assert desk.marks(0, T0 + timedelta(seconds=2), None) == ()
    (line,) = desk.marks(1, T0 + timedelta(seconds=4), None)
    assert daterange.parse(line).scte35_out == section
