"""Pure pieces of the ladder: measured bandwidth, master hysteresis, shared PDT clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hlsd.backoff import Backoff
from hlsd.media.ladder import Ladder, RungMedia
from hlsd.media.parse import parse_master
from hlsd.media.timeline import Timeline


def test_master_waits_for_every_rung_then_orders_by_bandwidth() -> None:
    ladder = Ladder("live", 6)
    ladder.set_rungs({"hi": 3_000_000, "audio": None})
    ladder.describe("hi", RungMedia("avc1.64001f,mp4a.40.2", (1280, 720), 25.0))
    ladder.rungs["hi"].add(1_000_000, 2.0)  # 4 Mbit/s peak > floor
    assert ladder.master_text() is None  # audio not measured yet
    ladder.describe("audio", RungMedia("mp4a.40.2"))
    ladder.rungs["audio"].add(16_000, 2.0)
    variants = parse_master(ladder.master_text() or "")
    assert [v.uri for v in variants] == ["live_audio.m3u8", "live_hi.m3u8"]
    assert variants[1].bandwidth == 4_000_000 and variants[1].resolution == (1280, 720)
    assert variants[0].resolution is None and variants[0].codecs == "mp4a.40.2"
    assert ladder.rungs["hi"].over_floor() and not ladder.rungs["hi"].over_floor()


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
