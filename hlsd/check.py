"""`hlsd check`: the effective settings as an operator should read them, secrets redacted."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from hlsd import __version__
from hlsd.config import Config, Secret
from hlsd.config.secret import redact_text
from hlsd.encode.ffmpeg import encoder_argv, fed_by_ingest, ffmpeg_version, find_ffmpeg
from hlsd.encode.segmenter import resolve as resolve_segmenter
from hlsd.ingest.build import ingest_inputs, owns_input


def _plain(value: Any) -> Any:
    if isinstance(value, Secret):
        return "***"
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return value


def effective_settings(config: Config) -> dict[str, Any]:
    settings = _plain(config)
    settings.pop("warnings", None)
    settings["input_location"] = redact_text(config.input_location)
    ffmpeg = find_ffmpeg()
    settings["hlsd_version"] = __version__
    settings["ffmpeg"] = ({"path": ffmpeg.path, "from": ffmpeg.origin,
                           "version": ffmpeg_version(ffmpeg.path)} if ffmpeg else "NOT FOUND")
    settings["segmenter"] = resolve_segmenter(config.segmenter_binary)
    settings["backup_inputs"] = [redact_text(b) for b in config.backup_inputs]
    if ffmpeg is None:
        return dict(settings)
    owned = owns_input(config)
    commands = {}
    for p in config.encoding_profiles:
        argv = encoder_argv(p.ffmpeg_command, config.input_location, config.segment_length,
                            ffmpeg.path, config.source_command is not None or owned)
        commands[p.name] = [redact_text(a) for a in
                            (fed_by_ingest(argv) if owned else argv).argv]
    settings["encoder_commands"] = commands
    if owned:
        # The ingest stage keeps each input open: what it runs, and what hlsd added to it.
        settings["input_readers"] = {
            spec.label: {"command": [redact_text(a) for a in spec.argv],
                         "added_by_hlsd": list(spec.added), "listener": spec.listener}
            for spec in ingest_inputs(config, ffmpeg.path)}
    return dict(settings)
