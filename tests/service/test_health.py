"""The health verdict: pure cases over timestamps."""

from __future__ import annotations

from hlsd.service.health import STARTUP_GRACE, evaluate

MAX_AGE = 12.0  # 3 x a 4 s segment_length
STARTED = 100.0


def test_all_rungs_recent_is_healthy() -> None:
    r = evaluate({"a": 195.0, "b": 190.0}, now=200.0, max_age=MAX_AGE, started=STARTED)
    assert r.ok and r.stale == []
    assert r.to_json() == {"status": "ok", "stale": [], "max_age": 12.0,
                           "rungs": {"a": {"ok": True, "age": 5.0},
                                     "b": {"ok": True, "age": 10.0}}}


def test_exactly_max_age_is_still_healthy_and_just_over_is_not() -> None:
    assert evaluate({"a": 188.0}, 200.0, MAX_AGE, STARTED).ok
    r = evaluate({"a": 187.9}, 200.0, MAX_AGE, STARTED)
    assert not r.ok and r.stale == ["a"]


def test_a_stale_rung_is_named() -> None:
    r = evaluate({"ep_720p": 199.0, "ep_360p": 150.0}, 200.0, MAX_AGE, STARTED)
    assert not r.ok
    body = r.to_json()
    assert body["status"] == "stale"
    assert body["stale"] == ["ep_360p"]
    assert body["rungs"]["ep_360p"] == {"ok": False, "age": 50.0}
    assert "ep_360p" in body["message"]


def test_no_segment_yet_is_healthy_only_during_the_startup_grace() -> None:
    limit = STARTED + MAX_AGE + STARTUP_GRACE
    assert evaluate({"a": None}, limit - 0.1, MAX_AGE, STARTED).ok
    late = evaluate({"a": None}, limit, MAX_AGE, STARTED)
    assert not late.ok and late.stale == ["a"]
    assert late.to_json()["rungs"]["a"] == {"ok": False, "age": None}


def test_a_restart_of_the_rungs_restarts_the_grace() -> None:
    """`started` is when the rungs were (re)started, e.g. after a reload."""
    assert evaluate({"new": None}, 1000.0, MAX_AGE, started=995.0).ok


def test_stale_rungs_keep_the_given_order() -> None:
    r = evaluate({"c": 0.0, "a": 199.0, "b": 0.0}, 200.0, MAX_AGE, STARTED)
    assert r.stale == ["c", "b"]


def test_no_rungs_is_healthy() -> None:
    assert evaluate({}, 200.0, MAX_AGE, STARTED).ok


def test_clock_skew_never_gives_a_negative_age() -> None:
    r = evaluate({"a": 201.0}, 200.0, MAX_AGE, STARTED)
    assert r.ok and r.rungs[0].age == 0.0


def test_a_rung_restarted_by_a_reload_gets_its_own_startup_grace() -> None:
    """The daemon started long ago; rung b was restarted 2 s ago and has no segment yet."""
    now = STARTED + 1000.0
    r = evaluate({"a": now - 1.0, "b": None}, now, MAX_AGE, STARTED, restarted={"b": now - 2.0})
    assert r.ok
    late = evaluate({"a": now - 1.0, "b": None}, now, MAX_AGE, STARTED,
                    restarted={"b": now - MAX_AGE - STARTUP_GRACE - 1.0})
    assert late.stale == ["b"]
    assert evaluate({"b": None}, now, MAX_AGE, STARTED).stale == ["b"]
