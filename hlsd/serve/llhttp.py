"""LL-HLS requests at the origin (RFC 8216bis §6.2.5): blocking playlist reload
(`_HLS_msn`, `_HLS_part`), delta updates (`_HLS_skip`), parts and in-memory segments,
and requests for the hinted part, held until it exists. Responses are never partial."""

from __future__ import annotations

import math

from aiohttp import web

from hlsd.publish.transfer.base import PLAYLIST_CONTENT_TYPE, content_type
from hlsd.serve.live import LiveEdge

# A blocking request's answer names exactly what was asked for: a cache may keep it as
# long as the segments it lists stay (Apple: about six target durations).
BLOCKING_CACHE_FACTOR = 6
MEDIA_CACHE = "max-age=31536000, immutable"  # a part's or segment's name is never reused
LIVE_PLAYLIST_CACHE = "max-age=1"  # no query: the current playlist, for a moment


def advance_part_limit(part_target: float) -> int:
    """How far beyond the last part a request may ask (RFC 8216bis §6.2.5.2)."""
    return math.floor(3 / part_target) if part_target < 1 else 3


def _int(request: web.Request, name: str) -> int | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    if not raw.isdigit():
        raise web.HTTPBadRequest(text=f"{name} must be a decimal integer\n")
    return int(raw)


async def playlist(edge: LiveEdge, rung: str, request: web.Request) -> web.Response:
    msn, part = _int(request, "_HLS_msn"), _int(request, "_HLS_part")
    skip = request.query.get("_HLS_skip") in ("YES", "v2")
    if part is not None and msn is None:
        raise web.HTTPBadRequest(text="_HLS_part needs _HLS_msn\n")
    cache = LIVE_PLAYLIST_CACHE
    if msn is not None:
        last_msn, last_part = edge.last(rung)
        too_far = msn > last_msn + 2 or (
            part is not None and msn == last_msn and last_part is not None
            and part > last_part + advance_part_limit(edge.part_target))
        if too_far and not edge.rungs[rung].playlist.ended:
            raise web.HTTPBadRequest(text="_HLS_msn/_HLS_part too far ahead of the live edge\n")
        timeout = 3 * edge.target_duration
        if not await edge.wait(rung, lambda: edge.has(rung, msn, part), timeout):
            raise web.HTTPServiceUnavailable(text="not available in time\n",
                                             headers={"Cache-Control": "no-store"})
        cache = f"max-age={BLOCKING_CACHE_FACTOR * edge.target_duration}"
    return web.Response(body=edge.playlist(rung, skip), headers={
        "Content-Type": PLAYLIST_CONTENT_TYPE, "Cache-Control": cache,
        "Access-Control-Allow-Origin": "*"})


async def media(edge: LiveEdge, name: str) -> web.Response | None:
    """A part, segment or init segment held in memory; a hinted part is waited for.
    None: not the live edge's (the origin serves it from the directory, if there)."""
    data = edge.find(name)
    if data is None:
        future = edge.rung_of_part(name)
        if future is None:
            return None
        rung, seq, index = future
        expected = edge.rungs[rung].next_part
        # Only the hinted part is worth waiting for: every part before it is in memory
        # or gone for good (a name never written, or one that left the window).
        if expected is None or (seq, index) != expected[1:]:
            return None
        await edge.wait(rung, lambda: edge.find(name) is not None, 3 * edge.target_duration)
        data = edge.find(name)
        if data is None:
            raise web.HTTPNotFound(headers={"Cache-Control": "no-store"})
    return web.Response(body=data, headers={
        "Content-Type": content_type(name) or "application/octet-stream",
        "Cache-Control": MEDIA_CACHE, "Access-Control-Allow-Origin": "*",
        "X-Content-Type-Options": "nosniff"})
