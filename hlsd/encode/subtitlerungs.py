"""The subtitle rungs beside the encoder groups: their tracks started and stopped with the
ladder, and a RungSink in front of the publish stage's that adds a subtitle segment for
every segment the reference rung (the first variant) cuts."""

from __future__ import annotations

import asyncio
import shlex

from hlsd import config as cfg
from hlsd.encode.events import Event, SegmentReady, StreamInfo
from hlsd.encode.ffmpeg import encoder_argv, mpegts_zero
from hlsd.encode.sink import RungSink
from hlsd.encode.subtitles import SubtitleTrack


def is_subtitles(profile: cfg.EncodingProfile) -> bool:
    return profile.rendition is not None and profile.rendition.type == "subtitles"


def reference_rung(config: cfg.Config) -> str | None:
    """The rung whose segments the subtitle segments follow: the first variant."""
    return next((p.name for p in config.encoding_profiles if p.rendition is None), None)


class SubtitleRungs:
    """A RungSink passing everything on to `sink`, with the subtitle rungs' own reports."""

    def __init__(self, sink: RungSink) -> None:
        self._sink = sink
        self.tracks: dict[str, SubtitleTrack] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self.reference: str | None = None  # the rung whose segments they follow
        self._described: set[str] = set()

    def __contains__(self, rung: str) -> bool:
        return rung in self.tracks

    def start(self, tg: asyncio.TaskGroup, config: cfg.Config, ffmpeg: str,
              profiles: list[cfg.EncodingProfile]) -> None:
        self.reference = reference_rung(config)
        for profile in profiles:
            argv = encoder_argv(profile.ffmpeg_command, config.input_location,
                                config.segment_length, ffmpeg, from_source_command=False).argv
            # The cues' time 0 is where the reference's MPEG-TS muxer puts output time 0.
            zero = mpegts_zero(shlex.split(config.profile(self.reference).ffmpeg_command)
                               ) if self.reference else 0
            track = SubtitleTrack(profile.name, argv, config.temp_dir / profile.name,
                                  f"{config.segment_prefix}_{profile.name}", zero, config.live)
            track.workdir.mkdir(parents=True, exist_ok=True)
            for leftover in track.workdir.glob(f"{track.prefix}-*"):  # an earlier run's
                leftover.unlink(missing_ok=True)
            self.tracks[profile.name] = track
            self._described.discard(profile.name)
            self._sink.rung_started(profile.name)
            self._tasks[profile.name] = tg.create_task(track.run(tg),
                                                       name=f"subtitles {profile.name}")

    async def stop(self, name: str) -> None:
        track = self.tracks.pop(name, None)
        if track is not None:
            track.stop()
            await asyncio.wait({self._tasks.pop(name)}, timeout=5.0)

    async def stop_all(self) -> None:
        for name in list(self.tracks):
            await self.stop(name)

    # -- RungSink ------------------------------------------------------------------------
    async def event(self, rung: str, event: Event) -> None:
        await self._sink.event(rung, event)
        if rung != self.reference or not isinstance(event, SegmentReady):
            return
        for track in list(self.tracks.values()):
            segment = await track.follow(event)
            if track.name not in self._described:
                self._described.add(track.name)
                await self._sink.event(track.name, StreamInfo(video=None, audio=None))
            await self._sink.event(track.name, segment)

    def rung_started(self, rung: str) -> None:
        self._sink.rung_started(rung)

    def rung_finished(self, rung: str) -> None:
        self._sink.rung_finished(rung)
        if rung == self.reference:
            for name in self.tracks:
                self._sink.rung_finished(name)

    def encoder_restarted(self, rung: str, failed: bool = True) -> None:
        self._sink.encoder_restarted(rung, failed)
