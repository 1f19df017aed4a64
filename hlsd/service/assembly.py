"""Building the pipeline's parts and wiring them, each given what it needs up front."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from hlsd import config as cfg
from hlsd.encode.livecuts import LiveCuts
from hlsd.encode.rungs import Rungs
from hlsd.ingest.build import build_ingest
from hlsd.media.gaps import LadderProgress
from hlsd.media.ladder import Ladder
from hlsd.publish.cues import CueDesk, cue_wait
from hlsd.publish.destinations import DestinationSet
from hlsd.publish.intake import Intake
from hlsd.publish.keys import KeyRing, KeyState
from hlsd.publish.recorder import Recorder
from hlsd.publish.settings import PublishSettings
from hlsd.serve.live import LiveEdge
from hlsd.serve.origin import Origin
from hlsd.serve.timeshift import TimeShift
from hlsd.service.metrics import Metrics
from hlsd.service.splices import LiveSplices
from hlsd.service.state import DaemonState
from hlsd.service.status import StreamStatus


@dataclass(frozen=True)
class Parts:
    """The running pipeline: source → encode (rungs) → intake → destinations, the ladder
    they describe, and what reports on them (status, origin)."""

    ladder: Ladder
    destinations: DestinationSet
    keys: KeyRing | None
    intake: Intake
    rungs: Rungs
    status: StreamStatus
    origin: Origin


def assemble(config: cfg.Config, ffmpeg: str, state: DaemonState, metrics: Metrics,
             on_listening: Callable[[str], None] | None = None) -> Parts:
    ladder = Ladder(config.index_prefix, config.index_segment_count)
    ladder.set_rungs({p.name: p.bandwidth for p in config.encoding_profiles},
                     config.start_rung, config.renditions)
    ladder.set_pathways(config.pathways)
    recorder = None if config.recording is None else Recorder(
        config.recording, ladder, config.target_duration, config.index_prefix)
    destinations = DestinationSet(ladder, metrics, config.target_duration, state.destinations,
                                  recorder, config.dvr_window)
    for profile in config.transfer_profiles:
        destinations.add(profile, config)
    keys = None if config.encryption is None else key_ring(config, state.keys)
    live = None
    if config.low_latency is not None:
        live = LiveEdge(config.target_duration, config.index_segment_count,
                        config.low_latency.part_length, ladder.variant_name)
    # A live ladder lists the segments a rung could not produce as gaps (EXT-X-GAP).
    gaps = LadderProgress(config.segment_length, config.index_segment_count) \
        if config.live else None
    cues = CueDesk(config.ad_markers, cue_wait(config.target_duration))
    cues.restore(state.breaks)  # the breaks the last run left open or announced
    intake = Intake(config.temp_dir, ladder, destinations, metrics, keys, live, gaps, cues)
    # Numbering never goes back: past what was persisted and what any playlist lists.
    next_seq = max(state.next_seq, destinations.last_seq() + 1)
    cuts = LiveCuts()  # a live input's SCTE-35 splice frames: marked, keyed and cut
    rungs = Rungs(config, ffmpeg, intake, next_seq, config.max_segment_duration,
                  partial(build_ingest, ffmpeg=ffmpeg, report=metrics,
                          tap=LiveSplices(cues, metrics, config.timeline == "locked", cuts)),
                  cuts)
    status = StreamStatus(rungs, ladder, destinations, intake, metrics, config.segment_length,
                          config.target_duration,
                          live.part_target if live is not None else None)
    return Parts(ladder, destinations, keys, intake, rungs, status,
                 Origin(status, on_listening, live, TimeShift(ladder, destinations), cues))


def key_ring(config: cfg.Config, state: KeyState) -> KeyRing:
    """Keys may be listed until a lagging destination's lane and window have moved past
    their last segment; clients may fetch them for another window after that."""
    assert config.encryption is not None
    settings = PublishSettings(config.target_duration, config.index_segment_count,
                               config.segment_length, config.url_prefix)
    lane = settings.lane_capacity
    keep_all = config.index_segment_count == 0
    return KeyRing(config.encryption, config.temp_dir / "keys", config.index_prefix, state,
                   horizon=0 if keep_all else 2 * lane,
                   # a time-shift span may name a key's segments for dvr_window more
                   grace=lane * config.segment_length + 2 * config.target_duration
                   + config.dvr_window)
