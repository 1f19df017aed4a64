"""Building the pipeline's parts and wiring them, each given what it needs up front."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hlsd import config as cfg
from hlsd.encode.rungs import Rungs
from hlsd.media.ladder import Ladder
from hlsd.publish.destinations import DestinationSet
from hlsd.publish.intake import Intake
from hlsd.serve.origin import Origin
from hlsd.service.metrics import Metrics
from hlsd.service.state import DaemonState
from hlsd.service.status import StreamStatus


@dataclass(frozen=True)
class Parts:
    """The running pipeline: source → encode (rungs) → intake → destinations, the ladder
    they describe, and what reports on them (status, origin)."""

    ladder: Ladder
    destinations: DestinationSet
    intake: Intake
    rungs: Rungs
    status: StreamStatus
    origin: Origin


def assemble(config: cfg.Config, ffmpeg: str, state: DaemonState, metrics: Metrics,
             on_listening: Callable[[str], None] | None = None) -> Parts:
    ladder = Ladder(config.index_prefix, config.index_segment_count)
    ladder.set_rungs({p.name: p.bandwidth for p in config.encoding_profiles},
                     config.start_rung)
    destinations = DestinationSet(ladder, metrics, config.target_duration, state.destinations)
    for profile in config.transfer_profiles:
        destinations.add(profile, config)
    intake = Intake(config.temp_dir, ladder, destinations, metrics)
    # Numbering never goes back: past what was persisted and what any playlist lists.
    next_seq = max(state.next_seq, destinations.last_seq() + 1)
    rungs = Rungs(config, ffmpeg, intake, next_seq, config.max_segment_duration)
    status = StreamStatus(rungs, ladder, destinations, intake, metrics, config.segment_length,
                          config.target_duration)
    return Parts(ladder, destinations, intake, rungs, status, Origin(status, on_listening))
