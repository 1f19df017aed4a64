"""Which parts a reloaded config restarts: a pure decision, tested without processes."""

from __future__ import annotations

from typing import Any

from hlsd import config as cfg
from hlsd.service.reload import plan_reload

A = "ffmpeg -i %s -s 640x360 -c:v libx264 -f mpegts -"
B = "ffmpeg -i %s -s 320x180 -c:v libx264 -f mpegts -"
OTHER_INPUT = "ffmpeg -re -i %s -vn -c:a aac -f mpegts -"


def make(**extra: Any) -> cfg.Config:
    raw: dict[str, Any] = {
        "temp_dir": "/tmp/w", "input_location": "rtmp://127.0.0.1/live",
        "encoding_profile": ["a", "b"], "transfer_profile": ["www", "up"],
        "encoder_mode": "per_rung", "a": {"ffmpeg_command": A}, "b": {"ffmpeg_command": B},
        "www": {"transfer_type": "copy", "directory": "/tmp/www"},
        "up": {"transfer_type": "sftp", "remote_host": "h", "user_name": "u"},
    }
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(raw.get(key), dict):
            raw[key] = {**raw[key], **value}
        else:
            raw[key] = value
    return cfg.parse(raw)


def test_nothing_changed_nothing_restarts() -> None:
    plan = plan_reload(make(), make())
    assert plan.stop_rungs == () and plan.replaced_destinations == ()
    assert not (plan.window_changed or plan.logging_changed or plan.target_duration_changed)


def test_only_the_changed_rung_restarts_in_per_rung_mode() -> None:
    plan = plan_reload(make(), make(b={"ffmpeg_command": B.replace("320x180", "400x224")}))
    assert plan.stop_rungs == ("b",) and plan.added_rungs == plan.removed_rungs == ()


def test_shared_encoder_restarts_whole_on_any_rung_change() -> None:
    old = make(encoder_mode="auto")
    assert old.encoder_mode == "shared"
    plan = plan_reload(old, make(encoder_mode="auto",
                                 b={"ffmpeg_command": B.replace("320x180", "400x224")}))
    assert set(plan.stop_rungs) == {"a", "b"}


def test_auto_switching_modes_restarts_everything() -> None:
    old = make(encoder_mode="auto")
    new = make(encoder_mode="auto", b={"ffmpeg_command": OTHER_INPUT})
    assert new.encoder_mode == "per_rung"
    assert set(plan_reload(old, new).stop_rungs) == {"a", "b"}


def test_global_encoder_settings_restart_every_rung() -> None:
    assert set(plan_reload(make(), make(segment_length=6)).stop_rungs) == {"a", "b"}
    assert set(plan_reload(make(), make(input_location="srt://x")).stop_rungs) == {"a", "b"}


def test_rungs_added_and_removed() -> None:
    plan = plan_reload(make(), make(encoding_profile=["a", "c"], c={"ffmpeg_command": B}))
    assert plan.removed_rungs == ("b",) and plan.added_rungs == ("c",)
    assert plan.stop_rungs == ("b",)


def test_destinations_added_removed_replaced_and_window_in_place() -> None:
    plan = plan_reload(make(), make(transfer_profile=["www", "s3"],
                                    s3={"transfer_type": "s3", "bucket_name": "b"},
                                    index_segment_count=10))
    assert plan.removed_destinations == ("up",) and plan.added_destinations == ("s3",)
    assert plan.replaced_destinations == () and plan.window_changed and not plan.stop_rungs
    moved = plan_reload(make(), make(up={"port": 2222}))
    assert moved.replaced_destinations == ("up",)
    prefixed = plan_reload(make(), make(url_prefix="https://cdn.example/live/"))
    assert set(prefixed.replaced_destinations) == {"www", "up"}


def test_log_and_target_duration_changes_are_flagged() -> None:
    plan = plan_reload(make(), make(log_level="DEBUG", target_duration=8))
    assert plan.logging_changed and plan.target_duration_changed and not plan.stop_rungs
