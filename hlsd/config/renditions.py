"""`rendition:` of an encoding profile (alternate audio and subtitles), and what the
profiles of one ladder must agree on once some of them are renditions."""

from __future__ import annotations

import itertools
import re
import shlex
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Literal, cast

from hlsd.config.checker import Checker, show
from hlsd.config.model import EncodingProfile, Rendition, yaml_keys

__all__ = ["carries_audio", "muxer_of", "parse_rendition", "resolve_renditions"]

RENDITION_KEYS = yaml_keys(Rendition) | {"name"}  # yaml_keys leaves out profile names
RenditionType = Literal["audio", "subtitles"]
TYPES = ("audio", "subtitles")
# RFC 5646 as players read it: a primary language subtag and optional subtags.
LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")
MUXERS = {"audio": "mpegts", "subtitles": "webvtt"}  # what each kind writes to stdout


def parse_rendition(value: Any, profile: str, check: Checker) -> Rendition | None:
    key = f"{profile}.rendition"
    raw = check.section(value, key, RENDITION_KEYS, shorthand=False)
    if raw is None:
        return None
    kind = check.choice(raw, "type", key, TYPES)
    if raw.get("type") is None:
        check.problem(f"{key}.type", "is missing", " | ".join(TYPES))
    language = check.string(raw, "language", key, required=True)
    if language is not None and not LANGUAGE.match(language):
        check.problem(f"{key}.language", f"found {show(language)}",
                      "an RFC 5646 language tag, e.g. en, es, pt-BR")
        language = None
    name = check.string(raw, "name", key)
    if name is not None and ('"' in name or not name.strip()):
        check.problem(f"{key}.name", f"found {show(name)}", "a non-empty name without '\"'")
        name = None
    default = check.boolean(raw, "default", key)
    if kind is None or language is None:
        return None
    return Rendition(type=cast(RenditionType, kind), language=language,
                     name=name or language, default=bool(default))


def muxer_of(rendition: Rendition | None) -> str:
    """The muxer a profile's command must select: WebVTT for subtitles, else MPEG-TS."""
    return MUXERS["subtitles"] if rendition and rendition.type == "subtitles" else "mpegts"


def carries_audio(command: str) -> bool:
    """Whether a variant's command may still write audio: no `-an`, and no `-map` list
    that selects only video."""
    try:
        argv = shlex.split(command)
    except ValueError:
        return False
    if "-an" in argv:
        return False
    maps = [b for a, b in itertools.pairwise(argv) if a == "-map"]
    return not maps or any(":v" not in m and not m.startswith("v") for m in maps)


def resolve_renditions(profiles: Sequence[EncodingProfile],
                       check: Checker) -> list[EncodingProfile]:
    """One default audio rendition (the first listed when none says so); subtitles are
    default only when a profile says so (a default subtitle track is shown without the
    viewer asking). Two defaults of a type, a NAME twice, or no variant at all are
    problems; a variant carrying its own audio beside audio renditions is worth a
    warning."""
    out = list(profiles)
    renditions = [p for p in profiles if p.rendition is not None]
    if renditions and len(renditions) == len(profiles):
        check.problem("encoding_profile", "lists only renditions",
                      "at least one variant: a profile without rendition:")
    for kind in TYPES:
        group = [p for p in renditions if p.rendition and p.rendition.type == kind]
        defaults = [p.name for p in group if p.rendition and p.rendition.default]
        if len(defaults) > 1:
            check.problem(f"{defaults[1]}.rendition.default", f"{kind} renditions "
                          f"{', '.join(defaults)} are all default", "one default per type")
        seen: dict[str, str] = {}
        for p in group:
            assert p.rendition is not None
            if p.rendition.name in seen:
                check.problem(f"{p.name}.rendition.name", f"{show(p.rendition.name)} is "
                              f"already {seen[p.rendition.name]}'s", f"a name unique among "
                              f"the {kind} renditions")
            seen.setdefault(p.rendition.name, p.name)
        if group and not defaults and kind == "audio":
            first = group[0]
            assert first.rendition is not None
            out[out.index(first)] = replace(first, rendition=replace(first.rendition,
                                                                    default=True))
    if any(p.rendition and p.rendition.type == "audio" for p in renditions):
        for p in profiles:
            if p.rendition is None and carries_audio(p.ffmpeg_command):
                check.warn(f"{p.name}.ffmpeg_command", "a variant that carries its own audio "
                           "beside audio renditions: players get both (add -an)")
    return out
