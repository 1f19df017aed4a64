"""The file's shape: which top-level keys are settings and which are profile sections,
the profile names a setting lists, and those sections parsed into profiles."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from hlsd.config.checker import Checker, show
from hlsd.config.model import (
    Config,
    CopyProfile,
    FtpProfile,
    SshProfile,
    TransferProfile,
    yaml_keys,
)

P = TypeVar("P")  # a profile type

SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
# Top-level keys that are settings, not profile sections.
TOP_KEYS = yaml_keys(Config)


def names(raw: Any, key: str, check: Checker) -> list[str]:
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, list) and raw and all(isinstance(n, str) for n in raw):
        if len(set(raw)) != len(raw):
            check.problem(key, f"names a profile twice: {show(raw)}", "each profile once")
        return list(dict.fromkeys(raw))
    check.problem(key, f"expected a profile name or a non-empty list of names, found "
                  f"{show(raw)}", "e.g. ep_720p or [ep_720p, ep_360p]")
    return []


def find_sections(raw: dict[Any, Any], enc_names: list[str], tr_names: list[str],
              check: Checker) -> set[str]:
    """The profile sections: top-level mappings that are not settings. Anything else at
    the top level that is no setting is an unknown key."""
    sections = {k for k, v in raw.items()
                if isinstance(k, str) and k not in TOP_KEYS and isinstance(v, dict)}
    for key in raw:
        if key not in TOP_KEYS and key not in sections:
            check.unknown({key: None}, TOP_KEYS, "")
    for key in sorted(sections):
        if not SAFE_NAME.match(key):
            check.problem(key, "profile names may hold only letters, digits, '_', '.', '-'",
                          "e.g. ep_720p")
        sec = raw[key]
        if key not in enc_names and key not in tr_names and not (
                "ffmpeg_command" in sec or "transfer_type" in sec):
            check.unknown({key: sec}, TOP_KEYS, "")
    return sections


def profiles(raw: Mapping[str, Any], sections: set[str], names: list[str], key: str,
              marker: str, parse: Callable[[str, Mapping[str, Any], Checker], P | None],
              check: Checker) -> list[P]:
    """The sections `key` names, each parsed; a name that is no section is a problem
    suggesting the closest section that has `marker` (ffmpeg_command, transfer_type)."""
    found = []
    for name in names:
        sec = raw.get(name)
        if not isinstance(sec, dict):
            check.problem(key, f"names {show(name)}, which is not a section of the file",
                          f"a top-level section with {marker}",
                          choices=[s for s in sections if marker in raw[s]], near=name)
        elif (profile := parse(name, sec, check)) is not None:
            found.append(profile)
    return found


def rebase(t: TransferProfile, rel: Callable[[str | None], Path | None]
            ) -> TransferProfile:
    """Relative local paths in profiles are relative to the config file's folder (a
    service's working directory is /, so nothing else would be predictable)."""
    def local(path: Path | None) -> Path | None:
        return rel(str(path)) if path is not None else None

    if isinstance(t, CopyProfile):
        return replace(t, directory=local(t.directory) or t.directory)
    if isinstance(t, SshProfile):
        return replace(t, key_file=local(t.key_file), known_hosts=local(t.known_hosts))
    if isinstance(t, FtpProfile):
        return replace(t, tls_ca_file=local(t.tls_ca_file))
    return t
