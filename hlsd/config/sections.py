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


# What a profile of each kind (by the key that marks its section) is called in examples.
EXAMPLE_NAMES = {"ffmpeg_command": ("ep_720p", "ep_360p"), "transfer_type": ("www", "backup")}
KINDS = {"ffmpeg_command": "an encoding", "transfer_type": "a transfer"}


def examples(doc: Mapping[Any, Any], marker: str) -> list[str]:
    """Two names for a hint about profiles marked by `marker`: the file's own sections
    of that kind first, then the usual examples."""
    own = sorted(k for k, v in doc.items()
                 if isinstance(k, str) and isinstance(v, dict) and marker in v)
    return list(dict.fromkeys([*own, *EXAMPLE_NAMES[marker]]))[:2]


def names(raw: Any, key: str, marker: str, doc: Mapping[Any, Any],
          check: Checker) -> list[str]:
    """The profile names `key` lists (`raw`, its value): one name or a list."""
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, list) and raw and all(isinstance(n, str) for n in raw):
        if len(set(raw)) != len(raw):
            check.problem(key, f"names a profile twice: {show(raw)}", "each profile once")
        return list(dict.fromkeys(raw))
    first, second = examples(doc, marker)
    what = ("is missing" if raw is None else
            f"expected a profile name or a non-empty list of names, found {show(raw)}")
    check.problem(key, what, f"the name of {KINDS[marker]} profile section (one with "
                  f"{marker}), e.g. {first} or [{first}, {second}]")
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
        sec = raw[key]
        if not SAFE_NAME.match(key):
            marker = "transfer_type" if "transfer_type" in sec else "ffmpeg_command"
            check.problem(key, "profile names may hold only letters, digits, '_', '.', '-'",
                          f"e.g. {EXAMPLE_NAMES[marker][0]}")
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
            own = [s for s in sections if marker in raw[s]]
            check.problem(key, f"names {show(name)}, which is not a section of the file",
                          f"{KINDS[marker]} profile: a top-level section with {marker}, "
                          f"e.g. {examples(raw, marker)[0]}", choices=own, near=name)
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
