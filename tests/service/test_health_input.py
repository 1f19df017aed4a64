"""Health with the ingest stage (HealthReport.input), StreamStatus.daemon_ok, and the
redaction of secret URL query parameters (hlsd.config.secret.redact_text)."""

from __future__ import annotations

import time
from typing import Any, cast

import pytest

from hlsd.config.secret import redact_text
from hlsd.service.health import HealthReport, RungHealth
from hlsd.service.status import StreamStatus


def ingest_state(on_air: str) -> dict[str, Any]:
    return {"on_air": on_air, "switches": 2, "inputs": [
        {"input": "primary", "location": "srt://h:9000?passphrase=***", "listener": False,
         "delivering": on_air == "primary", "idle_seconds": 0.1}]}


STALE = HealthReport(ok=False, stale=["ep_720p", "ep_360p"], max_age=12.0,
                     rungs=[RungHealth("ep_720p", 30.0, False), RungHealth("ep_360p", None, False)])
FINE = HealthReport(ok=True, stale=[], max_age=12.0, rungs=[RungHealth("ep_720p", 2.0, True)])


# -- HealthReport ---------------------------------------------------------------------------------

def test_a_listener_waiting_for_its_publisher_reports_waiting() -> None:
    report = HealthReport(ok=True, stale=[], max_age=12.0, input=ingest_state("waiting"))
    assert report.waiting and not report.input_lost
    body = report.to_json()
    assert body["status"] == "waiting"
    assert body["input"] == ingest_state("waiting")
    assert "message" not in body


def test_a_lost_input_with_stale_rungs_says_so_first() -> None:
    report = HealthReport(ok=False, stale=STALE.stale, max_age=12.0, rungs=STALE.rungs,
                          input=ingest_state("lost"))
    assert report.input_lost and not report.waiting
    body = report.to_json()
    assert body["status"] == "stale"
    assert body["message"] == "input lost: no recent segment from ep_720p, ep_360p"
    assert body["input"]["on_air"] == "lost"


@pytest.mark.parametrize("on_air", ["primary", "backup 1", "slate"])
def test_stale_rungs_with_an_input_on_air_are_not_blamed_on_the_input(on_air: str) -> None:
    report = HealthReport(ok=False, stale=STALE.stale, max_age=12.0, rungs=STALE.rungs,
                          input=ingest_state(on_air))
    assert not report.input_lost and not report.waiting
    body = report.to_json()
    assert body["status"] == "stale"
    assert body["message"] == "no recent segment from ep_720p, ep_360p"


def test_lost_without_stale_rungs_has_no_message() -> None:
    report = HealthReport(ok=True, stale=[], max_age=12.0, rungs=FINE.rungs,
                          input=ingest_state("lost"))
    body = report.to_json()
    assert body["status"] == "ok" and "message" not in body


def test_without_ingest_there_is_no_input_in_the_body() -> None:
    assert "input" not in FINE.to_json()
    assert not FINE.waiting and not FINE.input_lost


# -- StreamStatus with an ingest stage ------------------------------------------------------------

class FakeIngest:
    def __init__(self, on_air: str) -> None:
        self.on_air = on_air

    def state(self) -> dict[str, Any]:
        return ingest_state(self.on_air)


class FakeRungs:
    def __init__(self, ingest: FakeIngest | None) -> None:
        self.ingest = ingest
        self.started_at: dict[str, float] = {}

    def names(self) -> list[str]:
        return ["ep_720p"]


class FakeMetrics:
    def __init__(self, age: float) -> None:
        self._at = time.monotonic() - age

    def newest_segment_at(self, rung: str) -> float | None:
        return self._at


def status(on_air: str | None, age: float) -> StreamStatus:
    rungs = FakeRungs(None if on_air is None else FakeIngest(on_air))
    return StreamStatus(cast(Any, rungs), cast(Any, None), cast(Any, []), cast(Any, None),
                        cast(Any, FakeMetrics(age)), segment_length=4.0, target_duration=4)


@pytest.mark.parametrize(("on_air", "age", "daemon_ok"), [
    ("primary", 1.0, True),  # healthy
    ("primary", 100.0, False),  # stale with an input on air: hlsd's fault
    ("slate", 100.0, False),
    (None, 100.0, False),  # no ingest stage
    ("lost", 100.0, True),  # only the input is missing: restarting hlsd would not help
    ("waiting", 100.0, True),
])
def test_daemon_ok_forgives_only_a_missing_input(on_air: str | None, age: float,
                                                 daemon_ok: bool) -> None:
    assert status(on_air, age).daemon_ok() is daemon_ok


def test_waiting_for_a_publisher_is_healthy_for_healthz() -> None:
    ok, body = status("waiting", 100.0).health()
    assert ok and body["status"] == "waiting" and body["stale"] == []
    ok, body = status("lost", 100.0).health()
    assert not ok and body["message"].startswith("input lost")


# -- redact_text ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "redacted"), [
    ("srt://h:9000?mode=caller&passphrase=s3cr3t-pass&latency=200",
     "srt://h:9000?mode=caller&passphrase=***&latency=200"),
    ("srt://h:9000?passphrase=s3cr3t-pass", "srt://h:9000?passphrase=***"),
    ("rtsp://cam.local/stream?password=hunter2&channel=1",
     "rtsp://cam.local/stream?password=***&channel=1"),
    ("srt://h:9000?PassPhrase=s3cr3t-pass&mode=listener",
     "srt://h:9000?PassPhrase=***&mode=listener"),
    ("Input #0, mpegts, from 'srt://h:9000?passphrase=s3cr3t-pass':",
     "Input #0, mpegts, from 'srt://h:9000?passphrase=***':"),
    ("reader srt://a:1?password=one srt://b:2?passphrase=two -f mpegts",
     "reader srt://a:1?password=*** srt://b:2?passphrase=*** -f mpegts"),
    ("rtsp://user:hunter2@h/live/cam?passphrase=x",
     "rtsp://user:***@h/live/cam?passphrase=***"),
])
def test_redact_text_hides_secret_query_values_and_keeps_the_rest(text: str,
                                                                 redacted: str) -> None:
    assert redact_text(text) == redacted


@pytest.mark.parametrize("text", [
    "srt://h:9000?mode=caller&latency=200&maxbw=-1",
    "udp://239.1.1.1:5000?pkt_size=1316&fifo_size=1000000",
    "http://example.com/live.m3u8?passphrases_are_fine_in_paths",
    "input reader started pid=1234",
])
def test_redact_text_leaves_text_without_secrets_alone(text: str) -> None:
    assert redact_text(text) == text
