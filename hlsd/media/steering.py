"""Content steering (RFC 8216bis §4.4.6.6 and §7) as the master playlist carries it. Pure.

With pathways, the master lists every variant and I-frame stream once per pathway, each
copy with PATHWAY-ID and the pathway's URI prefix, and names the steering manifest with
#EXT-X-CONTENT-STEERING; the manifest (JSON) ranks the pathways. A player that cannot
load from one pathway moves to the next in PATHWAY-PRIORITY (hls.js: a level it cannot
load on any rung of the current pathway puts that pathway in a penalty box).

- Every pathway lists the same variants in the same order (playback_order), each with
  STABLE-VARIANT-ID = its own relative name: the same variant on every pathway, which is
  what a steering server's pathway clones (PER-VARIANT-URIS) key on.
- Renditions: "a Variant Stream belonging to a particular Pathway SHOULD use Rendition
  Group(s) on that Pathway" (§4.4.6.2). The CLOSED-CAPTIONS rendition has no URI (608 in
  the video itself), so its one group is on every pathway; a rendition with a URI would
  need a group per pathway.
- No EXT-X-VERSION change: §8 asks no version for these tags and attributes (Apple's
  content steering specification: "backward-compatible with all HLS clients").
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from hlsd.config.model import Pathway
from hlsd.media.playlist import PlaylistError, has_control

STEERING_VERSION = 1  # the manifest's VERSION (§7.1: MUST be 1)
# Seconds a player waits before reloading the manifest: a priority changed by a reload
# reaches players within that (plus the manifest's short cache lifetime), at one small
# request per player every half minute. The spec's default, 300 s, is slow for failover
# planned by an operator.
STEERING_TTL = 30
PATHWAY_ID = re.compile(r"[A-Za-z0-9._-]+")  # §7.1
STABLE_ID = re.compile(r"[A-Za-z0-9+/=._-]+")  # STABLE-VARIANT-ID's characters (§4.4.6.2)


@dataclass(frozen=True)
class Route:
    """Where one pathway's copy of the variants is: its PATHWAY-ID and URI prefix. The
    default route (no content steering) adds nothing: the master as without pathways."""

    pathway: str | None = None
    prefix: str = ""

    def uri(self, uri: str) -> str:
        return self.prefix + uri

    def attrs(self, uri: str) -> list[str]:
        """The attributes a variant (or I-frame stream) named `uri` gets on this route."""
        if self.pathway is None:
            return []
        stable = [f'STABLE-VARIANT-ID="{uri}"'] if STABLE_ID.fullmatch(uri) else []
        return [*stable, f'PATHWAY-ID="{self.pathway}"']


DIRECT = (Route(),)


@dataclass(frozen=True)
class Steering:
    """The pathways, in priority order, and the steering manifest's URI as the master names
    it (a bare name: beside the master, on whichever host served the master)."""

    pathways: tuple[Pathway, ...]
    server_uri: str
    ttl: int = STEERING_TTL

    def __post_init__(self) -> None:
        if not self.pathways:
            raise PlaylistError("content steering needs at least one pathway")
        ids = [p.id for p in self.pathways]
        if len(set(ids)) != len(ids):
            raise PlaylistError(f"pathway ids must be unique: {ids}")
        for p in self.pathways:
            if not PATHWAY_ID.fullmatch(p.id):
                raise PlaylistError(f"pathway id {p.id!r}: only [A-Za-z0-9._-] allowed")
            if has_control(p.url_prefix) or '"' in p.url_prefix:
                raise PlaylistError(f"pathway {p.id}: url_prefix has a quote or control "
                                    "characters")
        if not self.server_uri or has_control(self.server_uri) or '"' in self.server_uri:
            raise PlaylistError(f"steering URI {self.server_uri!r} is empty or has a quote "
                                "or control characters")
        if self.ttl <= 0:
            raise PlaylistError("the steering manifest's TTL must be > 0")

    @property
    def routes(self) -> tuple[Route, ...]:
        return tuple(Route(p.id, p.url_prefix) for p in self.pathways)

    def tag(self) -> str:
        """#EXT-X-CONTENT-STEERING: the manifest, and the pathway to use until it is loaded
        (the first: the one the manifest ranks first)."""
        return (f'#EXT-X-CONTENT-STEERING:SERVER-URI="{self.server_uri}",'
                f'PATHWAY-ID="{self.pathways[0].id}"')

    def manifest(self) -> str:
        """The steering manifest (§7.1). RELOAD-URI is its own name: a relative one is
        resolved against the manifest's URI, so players keep asking the host they asked;
        they add _HLS_pathway and _HLS_throughput to it, which a static file ignores."""
        return json.dumps({
            "VERSION": STEERING_VERSION,
            "TTL": self.ttl,
            "RELOAD-URI": self.server_uri.rsplit("/", 1)[-1],
            "PATHWAY-PRIORITY": [p.id for p in self.pathways],
        }, indent=2) + "\n"
