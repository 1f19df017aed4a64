"""From encoding profiles to encoder groups: which ffmpeg runs, feeding which segmenters.

Per-rung mode: one encoder per rung. Shared mode: one encoder decodes once and writes
every rung to its own pipe. Only reads the config; starting processes is the
supervisor's job.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable
from functools import partial
from typing import Any

import structlog

from hlsd import config as cfg
from hlsd.encode.ffmpeg import (
    EncoderArgv,
    encoder_argv,
    fed_by_ingest,
    mpegts_zero,
    shared_encoder_argv,
)
from hlsd.encode.livecuts import LiveCuts
from hlsd.encode.locked import lock_encoder
from hlsd.encode.segmenter import resolve as resolve_segmenter
from hlsd.encode.specs import GroupSpec, RungSpec
from hlsd.encode.splicekeys import keys_splices
from hlsd.ingest.build import owns_input
from hlsd.ingest.fanout import Fanout
from hlsd.ingest.feed import Feed, LiveFeed

log = structlog.get_logger()

SHARED_GROUP = "ladder"


def rung_spec(config: cfg.Config, profile: cfg.EncodingProfile,
              max_duration: float) -> RungSpec:
    return RungSpec(
        name=profile.name, segmenter=resolve_segmenter(config.segmenter_binary),
        workdir=config.temp_dir / profile.name,
        prefix=f"{config.segment_prefix}_{profile.name}",
        segment_length=config.segment_length, max_duration=max_duration,
        segment_format=config.segment_format,
        part_duration=config.low_latency.part_length if config.low_latency else None,
        timeline=config.timeline, cuts=config.splice_points)


def aligned_with_audio(config: cfg.Config) -> bool:
    """Video rungs start at output time 0 with the audio renditions: a finite input's (a
    live one's constant frame rate could fill a timestamp jump with copies of a frame)."""
    return not config.live and any(r.type == "audio" for r in config.renditions.values())


def rung_argv(config: cfg.Config, profile: cfg.EncodingProfile, ffmpeg: str,
              owned: bool) -> EncoderArgv:
    """The encoder of one rung; `owned`: the ingest stage owns the input (a pipe feeds
    it), and with timeline: locked it keeps the input's clock."""
    argv = encoder_argv(profile.ffmpeg_command, config.input_location, config.segment_length,
                        ffmpeg, from_source_command=config.source_command is not None or owned,
                        cuts=config.splice_points, from_zero=aligned_with_audio(config))
    if not owned:
        return argv
    argv = fed_by_ingest(argv)
    return lock_encoder(argv, config.segment_length) if config.timeline == "locked" else argv


def splice_argvs(config: cfg.Config, argvs: dict[str, EncoderArgv],
                 live_feed: LiveFeed | None) -> dict[str, EncoderArgv]:
    """Every rung's encoder keying the marked splice frames of a live input the ingest
    stage owns (timeline: local); none when one of them cannot (the numbers would part)."""
    if live_feed is None or config.timeline == "locked":
        return {}
    marked = {name: keys_splices(argv) for name, argv in argvs.items()}
    if any(argv is None for argv in marked.values()):
        log.info("a live input's SCTE-35 splice points open breaks on the next segment "
                 "boundary: these rungs set their own keyframes or frame times",
                 rungs=[name for name, argv in marked.items() if argv is None])
        return {}
    return {name: argv for name, argv in marked.items() if argv is not None}


def group_specs(config: cfg.Config, profiles: list[cfg.EncodingProfile], ffmpeg: str,
                max_duration: float, fanout: Feed | None,
                live_feed: LiveFeed | None = None,
                cuts: LiveCuts | None = None) -> list[GroupSpec]:
    """`max_duration` is the running playlists' (their target duration is fixed for their
    life, so a reload's new target_duration waits for a restart). With `live_feed` (the
    ingest stage owns the input) every encoder that reads the input reads its pipe; with
    `cuts` too, one with SCTE-35 gets exact cuts at its splice points."""
    argvs = {}
    for profile in profiles:
        argvs[profile.name] = rung_argv(config, profile, ffmpeg, live_feed is not None)
        if argvs[profile.name].added:
            log.info("keyframe grid added to encoder", rung=profile.name,
                     added=" ".join(argvs[profile.name].added))
    marked = splice_argvs(config, argvs, live_feed) if cuts is not None else {}
    shared = config.encoder_mode == "shared" and len(profiles) > 1
    groups = [[p.name for p in profiles]] if shared else [[p.name] for p in profiles]
    specs = []
    for names in groups:
        group = SHARED_GROUP if shared else names[0]
        parts = [argvs[n] for n in names]
        reads_stdin = any(a.reads_stdin for a in parts)
        keyed = [marked[n] for n in names if n in marked]
        specs.append(GroupSpec(
            name=group,
            rungs=tuple(rung_spec(config, config.profile(n), max_duration) for n in names),
            argv=partial(shared_encoder_argv, parts) if shared
            else partial(_fixed_argv, parts[0].argv),
            live=config.live, stdin=stdin_for(group, live_feed or fanout) if reads_stdin
            else None, feed=live_feed if reads_stdin else None,
            locked=config.timeline == "locked" and reads_stdin,
            **_marked(keyed, shared, cuts) if reads_stdin and len(keyed) == len(names) else {}))
    return specs


def _marked(parts: list[EncoderArgv], shared: bool, cuts: LiveCuts | None) -> dict[str, Any]:
    """GroupSpec's fields for exact splice cuts (each rung's MPEG-TS time 0 from its own
    output options)."""
    return {"marked_argv": partial(shared_encoder_argv, parts) if shared
            else partial(_fixed_argv, parts[0].argv), "cuts": cuts,
            "zeros": tuple(mpegts_zero(p.argv) for p in parts)}


def stdin_for(group: str, fanout: Feed | None) -> Callable[[], int]:
    """Encoder stdin: a pipe from the fan-out (source_command, or our own stdin shared by
    several encoders), else a copy of our stdin. The supervisor closes it after spawning."""
    if fanout is not None:
        return partial(fanout.subscribe, group)
    return partial(os.dup, 0)


def make_fanout(config: cfg.Config, on_lagging: Callable[[str], None]) -> Fanout | None:
    """The reader of an input the ingest stage does not own: a finite source_command's,
    or our stdin shared by several encoders."""
    if owns_input(config):
        return None
    per_rung_stdin = (config.input_location == "-" and len(config.encoding_profiles) > 1
                      and config.encoder_mode == "per_rung")
    if config.source_command is None and not per_rung_stdin:
        return None
    argv = (["cat"] if config.source_command is None else
            [a.replace("%s", config.input_location) for a in shlex.split(config.source_command)])
    return Fanout(argv, config.live, on_lagging=on_lagging,
                  inherit_stdin=config.source_command is None)


def _fixed_argv(argv: list[str], _write_fds: list[int]) -> list[str]:
    """A per-rung encoder writes to stdout, which already is its pipe."""
    return argv
