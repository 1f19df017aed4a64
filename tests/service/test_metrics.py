"""Metrics as a Prometheus server would scrape them: render() parsed by the client's parser."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from hlsd.service.metrics import Metrics


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def scrape(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """{(sample name, sorted labels): value} of one scrape."""
    body, content_type = metrics.render()
    assert content_type.startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def test_segments_bytes_and_durations_per_rung() -> None:
    m = Metrics(clock=Clock())
    m.segment("ep_720p", 4.0, 1_000_000)
    m.segment("ep_720p", 3.5, 900_000)
    m.segment("ep_360p", 4.0, 300_000)
    s = scrape(m)
    assert s[("hlsd_segments_total", (("rung", "ep_720p"),))] == 2
    assert s[("hlsd_segments_total", (("rung", "ep_360p"),))] == 1
    assert s[("hlsd_segment_bytes_total", (("rung", "ep_720p"),))] == 1_900_000
    assert s[("hlsd_segment_duration_seconds_sum", (("rung", "ep_720p"),))] == 7.5
    assert s[("hlsd_segment_duration_seconds_count", (("rung", "ep_720p"),))] == 2
    assert s[("hlsd_segment_duration_seconds_bucket",
              (("le", "4.0"), ("rung", "ep_720p")))] == 2
    assert s[("hlsd_segment_duration_seconds_bucket",
              (("le", "3.0"), ("rung", "ep_720p")))] == 0


def test_newest_segment_age_grows_until_the_next_segment() -> None:
    """1. segment at t, 2. scrape at t+5 → 5, 3. at t+9 → 9, 4. new segment → 0."""
    clock = Clock()
    m = Metrics(clock=clock)
    age = ("hlsd_newest_segment_age_seconds", (("rung", "ep_720p"),))
    assert age not in scrape(m)  # no segment yet: no age to report
    assert m.newest_segment_age("ep_720p") is None
    m.segment("ep_720p", 4.0, 1)
    clock.now += 5
    assert scrape(m)[age] == 5.0
    clock.now += 4
    assert scrape(m)[age] == 9.0
    assert m.newest_segment_age("ep_720p") == 9.0
    m.segment("ep_720p", 4.0, 1)
    assert scrape(m)[age] == 0.0


def test_encoder_restarts_and_corrupt_packets() -> None:
    m = Metrics()
    m.encoder_restart("ep_720p")
    m.encoder_restart("ep_720p")
    m.corrupt_packets("ep_720p", 7)
    m.corrupt_packets("ep_720p", 0)
    s = scrape(m)
    assert s[("hlsd_encoder_restarts_total", (("rung", "ep_720p"),))] == 2
    assert s[("hlsd_corrupt_packets_total", (("rung", "ep_720p"),))] == 7


def test_upload_latency_failures_skips_and_queue_per_destination() -> None:
    m = Metrics()
    m.upload("local", "segment", 0.02)
    m.upload("local", "playlist", 0.001)
    m.upload("s3", "segment", 1.5)
    m.upload_failure("s3")
    m.skipped("s3", 3)
    m.queue_depth("s3", 12)
    m.queue_depth("s3", 9)
    m.queue_depth("local", 0)
    s = scrape(m)
    assert s[("hlsd_upload_seconds_count", (("destination", "local"), ("kind", "segment")))] == 1
    assert s[("hlsd_upload_seconds_sum", (("destination", "s3"), ("kind", "segment")))] == 1.5
    assert s[("hlsd_upload_seconds_bucket",
              (("destination", "s3"), ("kind", "segment"), ("le", "2.5")))] == 1
    assert s[("hlsd_upload_failures_total", (("destination", "s3"),))] == 1
    assert s[("hlsd_segments_skipped_total", (("destination", "s3"),))] == 3
    assert s[("hlsd_upload_queue_depth", (("destination", "s3"),))] == 9
    assert s[("hlsd_upload_queue_depth", (("destination", "local"),))] == 0


def test_forget_removes_only_the_named_series() -> None:
    """A reload removed rung ep_360p and destination ftp; the others stay."""
    m = Metrics()
    for rung in ("ep_720p", "ep_360p"):
        m.segment(rung, 4.0, 10)
        m.encoder_restart(rung)
        m.corrupt_packets(rung, 1)
    for dest in ("local", "ftp"):
        m.upload(dest, "segment", 0.1)
        m.upload(dest, "playlist", 0.1)
        m.upload_failure(dest)
        m.skipped(dest, 1)
        m.queue_depth(dest, 1)
    m.forget_rung("ep_360p")
    m.forget_destination("ftp")
    m.forget_rung("never-seen")  # harmless
    m.forget_destination("never-seen")
    labels = {dict(k[1]).get("rung") for k in scrape(m)} | {
        dict(k[1]).get("destination") for k in scrape(m)}
    assert labels - {None} == {"ep_720p", "local"}
    assert m.newest_segment_age("ep_360p") is None


def test_each_instance_has_its_own_registry() -> None:
    a, b = Metrics(), Metrics()
    a.segment("r", 1.0, 1)
    assert ("hlsd_segments_total", (("rung", "r"),)) not in scrape(b)
    assert scrape(a)[("hlsd_segments_total", (("rung", "r"),))] == 1


def test_scte35_errors_are_counted() -> None:
    m = Metrics()
    m.scte35_errors(0)
    assert scrape(m)[("hlsd_scte35_errors_total", ())] == 0
    m.scte35_errors(2)
    assert scrape(m)[("hlsd_scte35_errors_total", ())] == 2
