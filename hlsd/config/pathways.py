"""`pathways`: content steering between hosts (RFC 8216bis §4.4.6.6 and §7). Each pathway
is an id (its PATHWAY-ID) and the prefix under which that host serves the stream's files;
the master lists every variant once per pathway (hlsd.media.steering)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from hlsd.config.checker import Checker, show
from hlsd.config.model import Pathway, yaml_keys

PATHWAY_KEYS = yaml_keys(Pathway)
# RFC 8216bis §7.1: a Pathway ID is made of [a..z], [A..Z], [0..9], '.', '-' and '_'.
PATHWAY_ID = re.compile(r"[A-Za-z0-9._-]+")
CREDENTIALS = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*@")
EXAMPLE = ('[{id: a, url_prefix: "https://a.example.com/live/"}, '
           '{id: b, url_prefix: "https://b.example.com/live/"}]')
ID_ALLOWED = "a pathway id of letters, digits, '.', '-' and '_', e.g. a or cdn-1"
PREFIX_ALLOWED = ("an http(s) URL or a path, ending in '/': where that host serves this "
                  "stream's playlists, e.g. https://a.example.com/live/")


def parse_pathways(raw: Mapping[str, Any], url_prefix: str | None,
                   check: Checker) -> tuple[Pathway, ...]:
    """`raw` is the whole document; problems and warnings go to `check`."""
    value = raw.get("pathways")
    if value is None or value == []:
        return ()
    if not isinstance(value, list):
        check.problem("pathways", f"found {show(value)}", f"a list of pathways, e.g. {EXAMPLE}")
        return ()
    found: list[Pathway] = []
    ids: dict[str, int] = {}
    prefixes: dict[str, int] = {}
    for i, item in enumerate(value):
        key = f"pathways[{i}]"
        if not isinstance(item, dict):
            check.problem(key, f"found {show(item)}", "a mapping with id and url_prefix, e.g. "
                          '{id: a, url_prefix: "https://a.example.com/live/"}')
            continue
        check.unknown(item, PATHWAY_KEYS, key)
        pathway_id = _pathway_id(item.get("id"), f"{key}.id", check)
        if pathway_id is not None and pathway_id in ids:
            check.problem(f"{key}.id", f"{show(pathway_id)} is the id of "
                          f"pathways[{ids[pathway_id]}] already", "a different id per pathway")
            pathway_id = None
        elif pathway_id is not None:
            ids[pathway_id] = i
        prefix = _url_prefix(item.get("url_prefix"), f"{key}.url_prefix", check)
        if prefix is not None and prefix in prefixes:
            check.warn(f"{key}.url_prefix", f"is the url_prefix of pathways[{prefixes[prefix]}] "
                       "too: both pathways lead to the same place")
        elif prefix is not None:
            prefixes[prefix] = i
        if pathway_id is not None and prefix is not None:
            found.append(Pathway(pathway_id, prefix))
    if len(value) == 1:
        # Valid, but a player that loses the only host has nowhere to go.
        check.warn("pathways", "lists one pathway: players have no other host to move to; "
                   "list every host that serves the stream (at least two), or no pathways")
    if url_prefix and "://" in url_prefix:
        check.warn("url_prefix", "is an absolute URL, so every pathway's playlists name "
                   "segments on that one host; leave it empty to fetch segments from the "
                   "pathway's own host")
    return tuple(found)


def _pathway_id(value: Any, key: str, check: Checker) -> str | None:
    if value is None:
        check.problem(key, "is missing", ID_ALLOWED)
        return None
    text = str(value) if isinstance(value, str | int) and not isinstance(value, bool) else None
    if text is None or not PATHWAY_ID.fullmatch(text):
        check.problem(key, f"found {show(value)}", ID_ALLOWED)
        return None
    return text


def _url_prefix(value: Any, key: str, check: Checker) -> str | None:
    if value is None:
        check.problem(key, "is missing", PREFIX_ALLOWED)
        return None
    if not isinstance(value, str) or not value:
        check.problem(key, f"found {show(value)}", PREFIX_ALLOWED)
        return None
    what = _prefix_problem(value)
    if what is not None:
        check.problem(key, what, PREFIX_ALLOWED)
        return None
    return value


def _prefix_problem(value: str) -> str | None:
    """What is wrong with a pathway's url_prefix, or None. The value is never echoed when it
    holds credentials."""
    if CREDENTIALS.match(value):
        return ("holds credentials (user:password@); the master playlist is public, every "
                "viewer would read them")
    if any(c.isspace() or c == '"' or ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return f"{show(value)} holds a space, a quote or a control character"
    if "?" in value or "#" in value:
        return f"{show(value)} has a query or a fragment; variant names are appended to it"
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:  # a malformed [IPv6] host
        return f"{show(value)} is not a valid URL"
    if parts.scheme and parts.scheme.lower() not in ("http", "https"):
        return f"{show(value)} is a {parts.scheme}: URL; players fetch playlists over HTTP"
    if parts.scheme and not host:
        return f"{show(value)} names no host"
    if not value.endswith("/"):
        return f"{show(value)} does not end in '/'; variant names are appended to it"
    return None
