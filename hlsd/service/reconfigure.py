"""Applying a reloaded config to the running pipeline, as its reload plan says: only what
changed restarts, and the stream never stops."""

from __future__ import annotations

import asyncio

import structlog

from hlsd import config as cfg
from hlsd.publish.cues import cue_wait
from hlsd.publish.destinations import DestinationSet
from hlsd.service import logs
from hlsd.service.assembly import Parts
from hlsd.service.metrics import Metrics
from hlsd.service.reload import plan_reload

log = structlog.get_logger()


async def apply_reload(parts: Parts, metrics: Metrics, old: cfg.Config, new: cfg.Config,
                       tg: asyncio.TaskGroup) -> None:
    plan = plan_reload(old, new)
    for warning in new.warnings:
        log.warning("config", problem=warning)
    if plan.logging_changed:
        logs.configure(new.log_level, new.log_type, new.log_file)
    if plan.target_duration_changed:
        # EXT-X-TARGETDURATION is fixed for a playlist's life (RFC 8216 §6.2.1).
        log.warning("target duration stays until a restart", running=old.target_duration,
                    configured=new.target_duration)
    if old.low_latency != new.low_latency:
        log.warning("low_latency: the origin keeps serving as configured at start (the "
                    "rungs restart with the new part length); restart hlsd to switch LL-HLS")
    dvr_live = dvr_reloadable(parts.destinations, new)
    if old.recording != new.recording or (new.dvr_window != parts.destinations.dvr_window
                                          and not dvr_live):
        log.warning("dvr_window and recording stay until a restart (the index and the "
                    "recording belong to the running stream; dvr_window changes at once "
                    "from one non-zero value to another; with encryption, up to the one at "
                    "start)")
    if plan.encryption_changed:
        log.warning("encryption settings stay until a restart (keys and their rotation "
                    "belong to the running stream)")
    rungs, destinations = parts.rungs, parts.destinations
    for name in plan.stop_rungs:
        await rungs.stop(name)
    rungs.reconfigure(new)
    parts.intake.reconfigure(new.temp_dir)
    parts.intake.cues.reconfigure(new.ad_markers, cue_wait(new.target_duration))
    parts.status.reconfigure(new.segment_length)
    for name in plan.removed_rungs:
        await destinations.remove_rung(name)
        metrics.forget_rung(name)
        rungs.forget(name)
    parts.ladder.set_rungs({p.name: p.bandwidth for p in new.encoding_profiles},
                           new.start_rung, new.renditions)
    parts.ladder.set_pathways(new.pathways)  # the master (and manifest) follow
    profiles = {t.name: t for t in new.transfer_profiles}
    for name in plan.removed_destinations:
        await destinations.remove(name)
        log.info("destination removed", destination=name)
    for name in plan.added_destinations:
        destinations.add(profiles[name], new)
        log.info("destination added", destination=name)
    for name in plan.replaced_destinations:
        await destinations.replace(profiles[name], new, rungs.finished)
        log.info("destination restarted with new settings", destination=name)
    if plan.window_changed:
        destinations.set_window(new.index_segment_count)
    if dvr_live:
        log.info("dvr_window changed", running=destinations.dvr_window,
                 configured=new.dvr_window)
        destinations.set_dvr_window(new.dvr_window)
    # Stopping a shared encoder stopped all its rungs: start whatever is not running.
    starting = [p for p in new.encoding_profiles if p.name not in rungs]
    rungs.start(tg, starting, restarted=True)
    await parts.origin.apply(old, new)
    log.info("config reloaded", restarted_rungs=[p.name for p in starting
                                                 if p.name not in plan.added_rungs],
             removed_rungs=list(plan.removed_rungs), added_rungs=list(plan.added_rungs),
             destinations=destinations.names())


def dvr_reloadable(running: DestinationSet, new: cfg.Config) -> bool:
    """Whether a new dvr_window applies at once: from one non-zero value to another
    (turning the index on or off belongs to a start), and with encryption no longer than
    at start (the keys' grace, set then, covers that window only)."""
    window = new.dvr_window
    return (window != running.dvr_window and running.dvr_window > 0 and window > 0
            and (new.encryption is None or window <= running.started_dvr_window))
