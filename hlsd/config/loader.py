"""The config loader: a YAML file or document -> a validated, frozen Config, no side effects.

`load()` returns a frozen Config or raises ConfigError carrying one Problem per mistake,
each with its key path; no input, however hostile (not UTF-8, NaN, an alias bomb, deep
nesting), gets past it as anything else. Transfer profile sections are validated in
hlsd.config.transfer; the typed reads that collect problems are hlsd.config.checker's.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hlsd.config.admarkers import parse_ad_markers
from hlsd.config.checker import Checker, show
from hlsd.config.commands import MUXER_NAMES, command_problems, shared_problems
from hlsd.config.continuity import continuity_problems, parse_backups, parse_input_loss
from hlsd.config.encryption import parse_encryption
from hlsd.config.errors import ConfigError, Problem
from hlsd.config.http import parse_http
from hlsd.config.location import ALLOWED, checked_input, is_file, reads_local_input
from hlsd.config.model import (
    MAX_DURATION_SLACK,
    Config,
    EncodingProfile,
    HttpSettings,
    LowLatencySettings,
    TransferProfile,
    yaml_keys,
)
from hlsd.config.pathways import parse_pathways
from hlsd.config.reader import expand_env, read_document, warn_if_readable
from hlsd.config.recording import parse_dvr_window, parse_recording
from hlsd.config.renditions import muxer_of, parse_rendition, resolve_renditions
from hlsd.config.sections import SAFE_NAME, find_sections, names, profiles, rebase
from hlsd.config.timeline import parse_timeline
from hlsd.config.transfer import access_warnings, parse_transfer, present

__all__ = ["load", "parse"]

LEGACY_PIPE_TAIL = re.compile(r"\|\s*(%s\s*){1,6}$")

ENCODING_KEYS = yaml_keys(EncodingProfile)
LL_KEYS = yaml_keys(LowLatencySettings)


def strip_legacy_tail(command: str) -> tuple[str, bool]:
    """The original tool piped ffmpeg into its segmenter inside the command; hlsd does that."""
    stripped = LEGACY_PIPE_TAIL.sub("", command.rstrip())
    return stripped.rstrip(), stripped != command.rstrip()


def _encoding(name: str, raw: Mapping[str, Any], check: Checker) -> EncodingProfile | None:
    check.unknown(raw, ENCODING_KEYS, name)
    cmd = check.string(raw, "ffmpeg_command", name, required=True)
    bandwidth = check.integer(raw, "bandwidth", name, minimum=1, maximum=10**12)
    rendition = parse_rendition(raw.get("rendition"), name, check)
    if cmd is None:
        return None
    cmd, legacy = strip_legacy_tail(cmd)
    if legacy:
        check.warn(f"{name}.ffmpeg_command", "ends with the original tool's `| %s %s ...` "
                   "segmenter pipe; hlsd runs the segmenter itself, so that tail is dropped")

    muxer = muxer_of(rendition)
    for problem in command_problems(cmd, muxer):
        check.problem(f"{name}.ffmpeg_command", problem,
                      f"an ffmpeg command that writes {MUXER_NAMES[muxer]} to stdout, "
                      f"e.g. ... -f {muxer} -")
    return EncodingProfile(name=name, ffmpeg_command=cmd, bandwidth=bandwidth,
                           rendition=rendition)


def _low_latency(raw: Any, segment_format: str | None, http: HttpSettings | None,
                 encryption: object, segment_length: float | None,
                 check: Checker) -> LowLatencySettings | None:
    raw = check.section(raw, "low_latency", LL_KEYS)
    if raw is None:
        return None
    length = segment_length or Config.segment_length
    part = check.number(raw, "part_length", "low_latency", minimum=0.1, maximum=length / 2)
    if segment_format != "fmp4":
        check.problem("low_latency", "needs segment_format: fmp4 (parts are CMAF fragments)",
                      "segment_format: fmp4, or no low_latency")
    if http is None:
        check.problem("low_latency", "needs the built-in HTTP origin (blocking playlist "
                      "reload is served by hlsd itself)", "an http: section, or no low_latency")
    if encryption is not None:
        check.problem("low_latency", "is not supported with encryption yet",
                      "one of low_latency and encryption")
    return LowLatencySettings(**present(part_length=part))


def parse(raw: Any, source_path: Path | None = None, base_dir: Path | None = None) -> Config:
    """Validate a loaded YAML document; raises ConfigError listing every problem."""
    check = Checker()
    if not isinstance(raw, dict):
        raise ConfigError([Problem("", f"the file holds {type(raw).__name__}, not a mapping",
                                   "a YAML mapping of settings and profile sections")])
    raw = expand_env(raw, "", check)
    enc_names = names(raw.get("encoding_profile"), "encoding_profile", "ffmpeg_command", raw,
                      check)
    tr_names = names(raw.get("transfer_profile"), "transfer_profile", "transfer_type", raw,
                     check)
    sections = find_sections(raw, enc_names, tr_names, check)
    encodings = profiles(raw, sections, enc_names, "encoding_profile", "ffmpeg_command",
                          _encoding, check)
    encodings = resolve_renditions(encodings, check)
    transfers: list[TransferProfile] = profiles(
        raw, sections, tr_names, "transfer_profile", "transfer_type", parse_transfer, check)

    def rel(p: str | None) -> Path | None:
        if p is None:
            return None
        try:
            path = Path(p).expanduser()
        except RuntimeError:  # "~name" of no such user: a plain relative name
            path = Path(p)
        return path if path.is_absolute() or base_dir is None else base_dir / path

    transfers = [rebase(t, rel) for t in transfers]
    access_warnings(transfers, check)
    # Under systemd, StateDirectory= (hlsd@NAME: /var/lib/hlsd/NAME) is the default.
    state_dir = os.environ.get("STATE_DIRECTORY", "").split(":")[0]
    temp_dir = rel(check.string(raw, "temp_dir", "", required=not state_dir)) or \
        (Path(state_dir) if state_dir else None)
    input_location = check.string(raw, "input_location", "")
    source_command = check.string(raw, "source_command", "")
    if source_command is not None and input_location is None:
        check.problem("input_location", "is required with source_command", ALLOWED)
    seg_len = check.number(raw, "segment_length", "", minimum=0.5, maximum=60)
    count = check.integer(raw, "index_segment_count", "", minimum=0, maximum=100_000)
    target = check.integer(raw, "target_duration", "", minimum=1, maximum=120)
    if target is not None and seg_len is not None and target < math.ceil(seg_len - 1e-9):
        check.problem("target_duration", f"{target} is below segment_length {seg_len}",
                      f"at least {math.ceil(seg_len)}")
    prefixes = {}
    for key in ("segment_prefix", "index_prefix"):
        value = check.string(raw, key, "")
        if value is not None and not SAFE_NAME.match(value):
            check.problem(key, f"found {show(value)}", "letters, digits, '_', '.', '-' only "
                          "(it names files; no '/' or '..')")
        prefixes[key] = value
    log_type = check.choice(raw, "log_type", "", ("STDOUT", "FILE"), upper=True)
    log_file = rel(check.string(raw, "log_file", ""))
    if log_type == "FILE" and log_file is None:
        check.problem("log_file", "is required with log_type FILE", "a file path")
    level = check.choice(raw, "log_level", "", ("DEBUG", "INFO", "WARN", "ERROR"), upper=True)
    mode = check.choice(raw, "encoder_mode", "", ("auto", "per_rung", "shared"))
    commands = {e.name: e.ffmpeg_command for e in encodings}
    # Subtitle renditions run their own ffmpeg, never in the shared one.
    encoders = {e.name: e.ffmpeg_command for e in encodings if muxer_of(e.rendition) == "mpegts"}
    if mode == "shared":
        for problem in shared_problems(encoders):
            check.problem("encoder_mode", f"shared decoding impossible: {problem}",
                          "per_rung, or profiles whose options up to the last -i are the same")
    http = parse_http(raw.get("http"), transfers, rel, check)
    encryption = parse_encryption(raw, sections, tr_names, rel, check)
    segment_format = check.choice(raw, "segment_format", "", ("ts", "fmp4"))
    iframes = check.boolean(raw, "iframe_playlists", "")
    low_latency = _low_latency(raw.get("low_latency"), segment_format, http, encryption,
                               seg_len, check)
    start_rung = check.string(raw, "start_rung", "")
    if start_rung is not None and start_rung not in enc_names:
        check.problem("start_rung", f"{show(start_rung)} is not a listed encoding profile",
                      "one of encoding_profile: " + ", ".join(enc_names),
                      choices=enc_names, near=start_rung)
    elif start_rung is not None and any(e.name == start_rung and e.rendition for e in encodings):
        check.problem("start_rung", f"{show(start_rung)} is a rendition, not a variant",
                      "a profile without rendition:")
    live = check.boolean(raw, "live", "")
    backups = parse_backups(raw, input_location, check)
    if input_location and reads_local_input(source_command, commands.values()):
        # A file that is not there would pass for a live input that never comes.
        input_location = checked_input(input_location, "input_location", rel, check)
        backups = tuple(checked_input(b, f"backup_inputs[{i}]", rel, check)
                        for i, b in enumerate(backups))
    is_live = _is_live(input_location or "") if live is None else live
    input_loss = parse_input_loss(raw, rel, check)
    continuity_problems(backups, input_loss, input_location, is_live,
                        source_command is not None or any("%s" in c for c in commands.values()),
                        check)
    url_prefix = check.string(raw, "url_prefix", "")
    pathways = parse_pathways(raw, url_prefix, check)
    timeline = parse_timeline(raw, is_live, source_command, commands, check)
    segmenter = check.string(raw, "segmenter_binary", "")
    dvr_window = parse_dvr_window(raw, is_live, check)
    recording = parse_recording(raw, sections, seg_len or Config.segment_length, tr_names,
                                rel, check)
    ad_markers = parse_ad_markers(raw, check)
    check.raise_if_any()
    assert temp_dir is not None
    length = Config.segment_length if seg_len is None else seg_len
    target = target if target is not None else max(1, math.ceil(length - 1e-9))
    return Config(
        temp_dir=temp_dir, input_location=input_location or "",
        encoding_profiles=tuple(encodings), transfer_profiles=tuple(transfers),
        live=is_live, backup_inputs=backups, input_loss=input_loss,
        target_duration=target, max_segment_duration=target + MAX_DURATION_SLACK,
        encoder_mode=_encoder_mode(mode, encoders),
        http=http, encryption=encryption, low_latency=low_latency, start_rung=start_rung,
        pathways=pathways, timeline=timeline or "local", recording=recording,
        source_path=source_path,
        warnings=tuple(check.warnings), written_secrets=tuple(check.written_secrets),
        **present(segment_prefix=prefixes["segment_prefix"],
                  index_prefix=prefixes["index_prefix"], log_type=log_type,
                  log_file=log_file, log_level=level, source_command=source_command,
                  segment_length=seg_len, url_prefix=url_prefix, index_segment_count=count,
                  segmenter_binary=segmenter, segment_format=segment_format,
                  iframe_playlists=iframes, dvr_window=dvr_window, ad_markers=ad_markers),
    )


def _is_live(input_location: str) -> bool:
    """A regular file is a finite input; anything else (URL, device, '-') is live."""
    return input_location == "-" or not is_file(Path(input_location))


def _encoder_mode(configured: str | None, commands: dict[str, str]) -> Any:
    """`auto`: shared decoding whenever the rungs read the same input (bench/ladder.py:
    ~25 % less CPU), else one encoder per rung."""
    if configured in ("per_rung", "shared"):
        return configured
    return "shared" if len(commands) > 1 and not shared_problems(commands) else "per_rung"


def load(path: str | Path) -> Config:
    """Read and validate a config file; raises ConfigError (never a traceback for bad input)."""
    path = Path(path)
    config = parse(read_document(path), source_path=path.resolve(),
                   base_dir=path.resolve().parent)
    return warn_if_readable(config, path)
