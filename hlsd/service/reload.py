"""What a reloaded config changes, decided as a pure function of the old and new config.

The daemon executes the plan; keeping the decision here makes "only what changed
restarts" testable without processes.
"""

from __future__ import annotations

from dataclasses import dataclass

from hlsd.config import Config

# Settings every encoder depends on: a change restarts them all.
ENCODER_KEYS = ("input_location", "source_command", "segment_length", "segment_prefix",
                "segmenter_binary", "live", "temp_dir", "encoder_mode", "segment_format",
                "low_latency", "backup_inputs", "input_loss")


@dataclass(frozen=True)
class ReloadPlan:
    stop_rungs: tuple[str, ...]  # encoders to stop (those still configured start again)
    removed_rungs: tuple[str, ...]
    added_rungs: tuple[str, ...]
    removed_destinations: tuple[str, ...]
    added_destinations: tuple[str, ...]
    replaced_destinations: tuple[str, ...]  # new settings: reconnect, playlists continue
    window_changed: bool
    logging_changed: bool
    target_duration_changed: bool
    encryption_changed: bool  # keys are the stream's: new settings wait for a restart


def plan_reload(old: Config, new: Config) -> ReloadPlan:
    old_p = {p.name: p for p in old.encoding_profiles}
    new_p = {p.name: p for p in new.encoding_profiles}
    restart_all = any(getattr(old, k) != getattr(new, k) for k in ENCODER_KEYS)
    commands_changed = any(old_p[n].ffmpeg_command != new_p[n].ffmpeg_command
                           for n in old_p.keys() & new_p.keys())
    # One shared encoder serves the whole ladder: any change to it restarts it whole.
    shared = "shared" in (old.encoder_mode, new.encoder_mode)
    restart_all = restart_all or (
        shared and (old_p.keys() != new_p.keys() or commands_changed))
    stop = tuple(n for n in old_p if restart_all or n not in new_p
                 or old_p[n].ffmpeg_command != new_p[n].ffmpeg_command)
    old_t = {t.name: t for t in old.transfer_profiles}
    new_t = {t.name: t for t in new.transfer_profiles}
    # url_prefix is in every playlist: each destination takes it up when re-created.
    replace_all = old.url_prefix != new.url_prefix
    return ReloadPlan(
        stop_rungs=stop,
        removed_rungs=tuple(n for n in old_p if n not in new_p),
        added_rungs=tuple(n for n in new_p if n not in old_p),
        removed_destinations=tuple(n for n in old_t if n not in new_t),
        added_destinations=tuple(n for n in new_t if n not in old_t),
        replaced_destinations=tuple(n for n in new_t if n in old_t and (
            replace_all or old_t[n] != new_t[n])),
        window_changed=old.index_segment_count != new.index_segment_count,
        logging_changed=(old.log_level, old.log_type, old.log_file) != (
            new.log_level, new.log_type, new.log_file),
        target_duration_changed=old.target_duration != new.target_duration,
        encryption_changed=old.encryption != new.encryption)
