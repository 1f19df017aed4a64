"""The `ad_markers:` key: how ad breaks are written into the media playlists —
`daterange` (#EXT-X-DATERANGE with SCTE35-OUT/IN, RFC 8216bis) and/or `cue` (the legacy
#EXT-X-CUE-OUT/#EXT-X-CUE-IN some stitchers still read)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hlsd.config.checker import Checker, show

STYLES = ("daterange", "cue")
ALLOWED = "a list of daterange, cue (each once), e.g. [daterange, cue]"


def parse_ad_markers(raw: Mapping[str, Any], check: Checker) -> tuple[str, ...] | None:
    value = raw.get("ad_markers")
    if value is None:
        return None
    if isinstance(value, str):  # one style written without the list
        value = [value]
    if not isinstance(value, list) or not value:
        check.problem("ad_markers", f"found {show(value)}", ALLOWED)
        return None
    styles: list[str] = []
    for i, style in enumerate(value):
        if style not in STYLES:
            check.problem(f"ad_markers[{i}]", f"found {show(style)}", ALLOWED,
                          choices=STYLES, near=str(style))
        elif style in styles:
            check.problem(f"ad_markers[{i}]", f"{style} is listed twice", ALLOWED)
        else:
            styles.append(style)
    return tuple(styles) if len(styles) == len(value) else None
