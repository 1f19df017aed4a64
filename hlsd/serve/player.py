"""The player page served at `/` (package data: player.html).

Values reach the page only as HTML-escaped attributes of <body>, which the page's
own script reads; nothing is pasted into JavaScript source, so a config value can
never break out of its string.
"""

from __future__ import annotations

import html
from functools import cache
from importlib.resources import files

from hlsd.serve.hlsjs import HlsJs

__all__ = ["player_page"]


@cache
def _template() -> str:
    return files("hlsd.serve").joinpath("player.html").read_text(encoding="utf-8")


def player_page(hls_js: HlsJs, master: str, part_target: float | None = None) -> str:
    """The page for a stream whose master playlist is at `master` (relative to `/`); it
    says which hls.js it loads (local or CDN). `part_target`: the stream is LL-HLS, and
    the page plays it so from the start (no round trip to ask: a player loses for good
    the time it takes to start)."""
    low_latency = "" if part_target is None else f"{part_target:g}"
    return (_template()
            .replace("{{hls_js_url}}", html.escape(hls_js.url, quote=True))
            .replace("{{hls_js_source}}", html.escape(hls_js.source, quote=True))
            .replace("{{master}}", html.escape(master, quote=True))
            .replace("{{part_target}}", low_latency))
