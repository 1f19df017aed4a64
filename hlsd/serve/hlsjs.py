"""Where the player page gets hls.js: a local copy the origin serves, else the CDN.

A machine without internet still plays the demo when a copy is found, in this order:
`http.hls_js_path`, the file named by $HLSD_HLS_JS, then the well-known places
(`scripts/demo` puts the hls.js npm package's dist/hls.min.js in the first one).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from hlsd.config.model import HttpSettings

__all__ = ["ENV", "ROUTE", "HlsJs", "choose_hls_js", "well_known_places"]

ENV = "HLSD_HLS_JS"
ROUTE = "/hls.min.js"  # where the origin serves a local copy
CONTENT_TYPE = "text/javascript; charset=utf-8"  # RFC 9239
# A day: the file at this fixed route may be replaced by a newer hls.js.
CACHE_CONTROL = "public, max-age=86400"


@dataclass(frozen=True)
class HlsJs:
    """The hls.js the player page loads: `url` as its <script src>, `local` the file the
    origin serves at ROUTE (None: the page loads `url` from elsewhere, the CDN)."""

    url: str
    local: Path | None = None

    @property
    def source(self) -> str:
        """What the page tells the viewer: "local" or "CDN"."""
        return "local" if self.local is not None else "CDN"


def well_known_places(prefix: str = sys.prefix) -> list[Path]:
    """The installation's share directory (a virtualenv's too), then the system's."""
    return [Path(prefix) / "share" / "hlsd" / "hls.min.js",
            Path("/usr/local/share/hlsd/hls.min.js"), Path("/usr/share/hlsd/hls.min.js")]


def choose_hls_js(settings: HttpSettings, env: Mapping[str, str] | None = None,
                  places: Sequence[Path] | None = None) -> HlsJs:
    """The first local copy that is a file, else `settings.hls_js_url`."""
    env = os.environ if env is None else env
    candidates = [settings.hls_js_path, Path(env[ENV]) if env.get(ENV) else None,
                  *(well_known_places() if places is None else places)]
    for path in candidates:
        if path is not None and _is_file(path):
            return HlsJs(ROUTE.lstrip("/"), path.resolve())  # relative: proxies may prefix
    return HlsJs(settings.hls_js_url)


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except (OSError, ValueError):  # a name too long, a NUL byte
        return False
