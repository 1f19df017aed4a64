"""`hlsd check`: the effective settings as an operator should read them, secrets redacted."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from hlsd import __version__
from hlsd.config import Config, Secret
from hlsd.config.location import local_path
from hlsd.config.secret import redact_text
from hlsd.encode.ffmpeg import ffmpeg_version, find_ffmpeg
from hlsd.encode.groups import rung_argv
from hlsd.encode.segmenter import resolve as resolve_segmenter
from hlsd.ingest.build import ingest_inputs, owns_input
from hlsd.ingest.inputs import InputSpec


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


def input_summary(config: Config, primary: InputSpec | None) -> dict[str, Any]:
    """What the input is and how hlsd waits for it, in words. `primary`: its reader, when
    the ingest stage opens the input (hlsd.ingest.build.owns_input)."""
    loss = config.input_loss
    slate = (f"the slate is shown meanwhile (after {loss.after:g} s without media)"
             if loss is not None else "")
    if config.backup_inputs:
        meanwhile = "a backup input goes on air meanwhile" + (
            f"; when every input is lost, {slate}" if slate else "")
    else:
        meanwhile = (f"with input_loss {slate}" if slate else
                     "without input_loss nothing is published meanwhile")
    reads = config.source_command if config.source_command is not None else " ".join(
        p.ffmpeg_command for p in config.encoding_profiles)
    if "%s" not in reads:
        kind, how = "none", "no command reads input_location (%s): they carry their own input"
    elif config.input_location == "-":
        kind, how = "stdin", "read from hlsd's standard input"
    elif not config.live:
        kind, how = "file", "finite: published to its end, then #EXT-X-ENDLIST and exit 0"
    elif primary is not None and primary.listener:
        kind, how = "listener", ("waits for a publisher to connect, and listens again at "
                                 f"once when it leaves; {meanwhile}")
    elif local_path(config.input_location) is not None:
        kind, how = "file", ("read as a live input (live: true): opened again at its end "
                             "(-stream_loop -1 in the command loops it without a gap)")
    else:
        kind, how = "pull", ("opened and kept open by a reader; while it is gone, tried "
                             f"again at least every 2 s; {meanwhile}")
    return {"location": redact_text(config.input_location), "kind": kind,
            "live": config.live, "listener": primary is not None and primary.listener,
            "how": how}


def effective_settings(config: Config) -> dict[str, Any]:
    plain = _plain(config)
    plain.pop("warnings", None)
    plain.pop("written_secrets", None)
    ffmpeg = find_ffmpeg()
    owned = owns_input(config)
    readers = ingest_inputs(config, ffmpeg.path if ffmpeg else "ffmpeg") if owned else []
    settings: dict[str, Any] = {}
    for key, value in plain.items():
        settings[key] = value
        if key == "input_location":
            settings[key] = redact_text(config.input_location)
            settings["input"] = input_summary(config, readers[0] if readers else None)
    settings["hlsd_version"] = __version__
    settings["ffmpeg"] = ({"path": ffmpeg.path, "from": ffmpeg.origin,
                           "version": ffmpeg_version(ffmpeg.path)} if ffmpeg else "NOT FOUND")
    settings["segmenter"] = resolve_segmenter(config.segmenter_binary)
    settings["backup_inputs"] = [redact_text(b) for b in config.backup_inputs]
    if ffmpeg is None:
        return settings
    commands = {}
    for p in config.encoding_profiles:
        commands[p.name] = [redact_text(a) for a in
                            rung_argv(config, p, ffmpeg.path, owned).argv]
    settings["encoder_commands"] = commands
    if owned:
        # The ingest stage keeps each input open: what it runs, and what hlsd added to it.
        settings["input_readers"] = {
            spec.label: {"command": [redact_text(a) for a in spec.argv],
                         "added_by_hlsd": list(spec.added), "listener": spec.listener}
            for spec in readers}
    return settings
