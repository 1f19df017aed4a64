"""The `http:` section: the built-in origin's listener for viewers and, apart from it, the
admin listener (/metrics, /info.json, /healthz and the control routes).

The admin listener is on when `admin_listen` or `admin_port` is set (the other takes its
default: loopback, 9180); without it the admin routes answer on the viewers' port, as they
always did. A warning for the viewers' listener beyond loopback without an admin listener
(every viewer could read the daemon's internals), and for an admin listener beyond
loopback (anyone who reaches it could).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from hlsd.config.checker import Checker, show
from hlsd.config.location import is_file
from hlsd.config.model import (
    DEFAULT_ADMIN_LISTEN,
    DEFAULT_ADMIN_PORT,
    CopyProfile,
    HttpSettings,
    TransferProfile,
    yaml_keys,
)
from hlsd.config.transfer import present

__all__ = ["is_loopback", "parse_http"]

HTTP_KEYS = yaml_keys(HttpSettings)
ADMIN_ROUTES = "/metrics, /info.json and /healthz"


def is_loopback(host: str) -> bool:
    """Whether binding `host` keeps a listener on this machine: a loopback address or
    `localhost`. A wildcard ('', 0.0.0.0, ::) or any other name or address does not."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def parse_http(raw: Any, transfers: Iterable[TransferProfile],
               rel: Callable[[str | None], Path | None], check: Checker
               ) -> HttpSettings | None:
    raw = check.section(raw, "http", HTTP_KEYS)
    if raw is None:
        return None
    admin_listen = check.string(raw, "admin_listen", "http")
    admin_port = check.integer(raw, "admin_port", "http", minimum=0, maximum=65535)
    if admin_listen is not None or admin_port is not None:  # the admin listener is on
        admin_listen = DEFAULT_ADMIN_LISTEN if admin_listen is None else admin_listen
        admin_port = DEFAULT_ADMIN_PORT if admin_port is None else admin_port
    http = HttpSettings(**present(
        listen=check.string(raw, "listen", "http"),
        port=check.integer(raw, "port", "http", minimum=0, maximum=65535),
        serve=check.string(raw, "serve", "http"),
        hls_js_url=check.string(raw, "hls_js_url", "http"),
        hls_js_path=rel(check.string(raw, "hls_js_path", "http")),
        admin_listen=admin_listen, admin_port=admin_port))
    if http.hls_js_path and not is_file(http.hls_js_path):
        check.problem("http.hls_js_path", f"{http.hls_js_path} is not a file",
                      "a local hls.js, e.g. dist/hls.min.js of the hls.js npm package")
    if http.serve and http.serve not in {t.name for t in transfers
                                         if isinstance(t, CopyProfile)}:
        check.problem("http.serve", f"{show(http.serve)} is not a copy transfer profile in use",
                      "the name of a copy profile listed in transfer_profile")
    _listeners(http, check)
    return http


def _listeners(http: HttpSettings, check: Checker) -> None:
    if http.admin_port is None:
        if not is_loopback(http.listen):
            check.warn("http.listen", f"{show(http.listen)} is beyond loopback, and "
                       f"{ADMIN_ROUTES} answer there too: anyone who can play the stream "
                       "can read the daemon's internals; set http.admin_port (the admin "
                       f"listener, on {DEFAULT_ADMIN_LISTEN} unless admin_listen says "
                       "otherwise) to move them off the viewers' port")
        return
    if http.admin_port and http.admin_port == http.port:
        check.problem("http.admin_port", f"{http.admin_port} is http.port too",
                      "another port than the viewers' (default 9180), or 0 for any free one")
    if not is_loopback(http.admin_listen or ""):
        check.warn("http.admin_listen", f"{show(http.admin_listen)} is beyond loopback: "
                   f"{ADMIN_ROUTES} (and the control routes) answer anyone who reaches "
                   f"port {http.admin_port}; keep it on loopback, or on a management "
                   "network behind a firewall")
