"""Pure pieces of the ladder: measured bandwidth, master hysteresis, shared PDT clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hlsd.backoff import Backoff
from hlsd.media.ladder import Ladder, RungMedia
from hlsd.media.parse import parse_master
from hlsd.media.timeline import Timeline


def test_master_waits_for_every_rung_then_lists_video_first() -> None:
    ladder = Ladder("live", 6)
    ladder.set_rungs({"hi": 3_000_000, "audio": None})
    ladder.describe("hi", RungMedia("avc1.64001f,mp4a.40.2", (1280, 720), 25.0))
    ladder.rungs["hi"].add(1_000_000, 2.0)  # 4 Mbit/s peak > floor
    assert ladder.master_text() is None  # audio not measured yet
    ladder.describe("audio", RungMedia("mp4a.40.2"))
    ladder.rungs["audio"].add(16_000, 2.0)
    variants = parse_master(ladder.master_text() or "")
    assert [v.uri for v in variants] == ["live_hi.m3u8", "live_audio.m3u8"]
    assert variants[0].bandwidth == 4_000_000 and variants[0].resolution == (1280, 720)
    assert variants[1].resolution is None and variants[1].codecs == "mp4a.40.2"
    assert ladder.rungs["hi"].over_floor() and not ladder.rungs["hi"].over_floor()


def measured_ladder(start_rung: str | None = None) -> Ladder:
    """1080p (6 Mbit/s), 540p (1.8), 360p (0.6) and 64k audio, each measured once."""
    ladder = Ladder("live", 6)
    ladder.set_rungs({"audio": None, "1080p": None, "360p": None, "540p": None}, start_rung)
    for name, size, rate in [("1080p", (1920, 1080), 6_000_000), ("540p", (960, 540), 1_800_000),
                             ("360p", (640, 360), 600_000), ("audio", None, 64_000)]:
        codecs = "avc1.640028,mp4a.40.2" if size else "mp4a.40.2"
        ladder.describe(name, RungMedia(codecs, size, 25.0 if size else None))
        ladder.rungs[name].add(rate // 8 * 2, 2.0)
    return ladder


def listed(ladder: Ladder) -> list[str]:
    return [v.uri[5:-5] for v in parse_master(ladder.master_text() or "")]


def test_the_master_starts_on_the_rung_nearest_2_mbits_from_below() -> None:
    assert listed(measured_ladder()) == ["540p", "360p", "1080p", "audio"]


def test_start_rung_names_the_first_variant_and_a_reload_may_change_it() -> None:
    """1. start_rung 1080p: listed first, the rest as usual, 2. a reload names 360p,
    3. a reload removes start_rung: hlsd's own choice again."""
    ladder = measured_ladder("1080p")
    assert listed(ladder) == ["1080p", "360p", "540p", "audio"]
    configured = {name: None for name in ladder.rungs}
    ladder.set_rungs(configured, "360p")
    assert listed(ladder) == ["360p", "540p", "1080p", "audio"]
    ladder.set_rungs(configured)
    assert listed(ladder) == ["540p", "360p", "1080p", "audio"]
    ladder.set_rungs(configured, "gone")  # not a rung (the loader refuses it): ignored
    assert listed(ladder) == ["540p", "360p", "1080p", "audio"]


def test_master_bandwidth_changes_only_materially() -> None:
    ladder = Ladder("live", 2)
    ladder.set_rungs({"a": None})
    ladder.describe("a", RungMedia("mp4a.40.2"))
    ladder.rungs["a"].add(100_000, 1.0)
    first = ladder.master_text()
    ladder.rungs["a"].add(105_000, 1.0)  # +5 %: not material
    assert ladder.master_text() == first
    ladder.rungs["a"].add(150_000, 1.0)
    assert ladder.master_text() != first


def test_master_average_bandwidth_changes_only_materially() -> None:
    """The peak stays, the average climbs: republished once it is 10 % off (rule 1.28:
    a live average must stay under 110 % of AVERAGE-BANDWIDTH)."""
    ladder = Ladder("live", 6)
    ladder.set_rungs({"a": None})
    ladder.describe("a", RungMedia("mp4a.40.2"))
    ladder.rungs["a"].add(200_000, 1.0)  # a big first segment: the peak
    ladder.rungs["a"].add(100_000, 1.0)
    (first,) = parse_master(ladder.master_text() or "")
    assert (first.bandwidth, first.average_bandwidth) == (1_600_000, 1_200_000)
    ladder.rungs["a"].add(140_000, 1.0)  # average 1.17 Mbit/s: -2.5 %
    assert parse_master(ladder.master_text() or "") == [first]
    for _ in range(3):
        ladder.rungs["a"].add(190_000, 1.0)  # average 1.48 Mbit/s, peak unchanged
    (now,) = parse_master(ladder.master_text() or "")
    assert now.bandwidth == 1_600_000 and now.average_bandwidth == 1_346_666


def test_same_sequence_number_same_program_date_time_on_every_rung() -> None:
    clock = Timeline()
    now = datetime(2026, 1, 1, tzinfo=UTC)
    a0 = clock.program_date_time("a", 10, 2.0, True, now)
    b0 = clock.program_date_time("b", 10, 2.0, True, now + timedelta(seconds=0.3))
    assert a0 == b0 == now - timedelta(seconds=2)
    a1 = clock.program_date_time("a", 11, 2.0, False, now + timedelta(seconds=5))
    assert a1 == a0 + timedelta(seconds=2)  # contiguous: the clock continues exactly


def test_backoff_doubles_to_the_cap_and_resets_after_a_healthy_run() -> None:
    b = Backoff(first=0.5, cap=4.0, jitter=0.0, healthy_after=60)
    assert [b.next_delay() for _ in range(5)] == [0.5, 1.0, 2.0, 4.0, 4.0]
    assert b.next_delay(ran_for=61) == 0.5
