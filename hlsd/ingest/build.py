"""Whether the ingest stage owns the input, and the Ingest for a config."""

from __future__ import annotations

import shlex

from hlsd import config as cfg
from hlsd.config.commands import split_input
from hlsd.ingest.inputs import InputSpec, input_specs, split_input_options
from hlsd.ingest.stage import Ingest, IngestReport, SourcePackets

__all__ = ["build_ingest", "ingest_inputs", "owns_input"]


def owns_input(config: cfg.Config) -> bool:
    """A live input that hlsd opens itself (a URL or device some encoder reads with %s,
    or a source_command's): the ingest stage keeps it open, and the encoders read pipes.
    Stdin and commands that carry their own input (a lavfi test source) stay as they are."""
    if not config.live or config.input_location in ("", "-"):
        return False
    return config.source_command is not None or any(
        "%s" in p.ffmpeg_command for p in config.encoding_profiles)


def reader_options(config: cfg.Config) -> list[str]:
    """The input-side options of the first command that reads the input."""
    for profile in config.encoding_profiles:
        if "%s" in profile.ffmpeg_command:
            try:
                head, _ = split_input(shlex.split(profile.ffmpeg_command))
            except ValueError:
                continue
            return split_input_options(head[1:-2])[1]
    return []


def ingest_inputs(config: cfg.Config, ffmpeg: str) -> list[InputSpec]:
    return input_specs(ffmpeg, config.input_location, config.backup_inputs,
                       reader_options(config), config.source_command,
                       locked=config.timeline == "locked")


def build_ingest(config: cfg.Config, ffmpeg: str, report: IngestReport | None = None,
                 tap: SourcePackets | None = None) -> Ingest | None:
    if not owns_input(config):
        return None
    loss = config.input_loss
    after = loss.after if loss is not None else cfg.InputLossSettings().after
    slate = (loss.slate or True) if loss is not None else None
    return Ingest(ingest_inputs(config, ffmpeg), after, slate, ffmpeg, report, tap)
