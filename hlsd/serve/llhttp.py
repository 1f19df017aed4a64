"""LL-HLS requests at the origin (RFC 8216bis §6.2.5): blocking playlist reload
(`_HLS_msn`, `_HLS_part`), delta updates (`_HLS_skip`), parts and in-memory segments,
and requests for the hinted part, held until it exists. Responses are never partial."""

from __future__ import annotations

from aiohttp import web

from hlsd.publish.transfer.base import PLAYLIST_CONTENT_TYPE, content_type
from hlsd.serve.live import LiveEdge
from hlsd.serve.playlist import accepts_gzip

# A blocking request's answer names exactly what was asked for: a cache may keep it as
# long as the segments it lists stay (Apple: about six target durations).
BLOCKING_CACHE_FACTOR = 6
MEDIA_CACHE = "max-age=31536000, immutable"  # a part's or segment's name is never reused
LIVE_PLAYLIST_CACHE = "max-age=1"  # no query: the current playlist, for a moment
NOT_IN_TIME = "not available in time\n"
TOO_FAR = "_HLS_msn/_HLS_part too far ahead of the live edge\n"


def playlist_headers(edge: LiveEdge, blocking: bool, gzipped: bool) -> dict[str, str]:
    headers = {"Content-Type": PLAYLIST_CONTENT_TYPE, "Access-Control-Allow-Origin": "*",
               "Vary": "Accept-Encoding",
               "Cache-Control": (f"max-age={BLOCKING_CACHE_FACTOR * edge.target_duration}"
                                 if blocking else LIVE_PLAYLIST_CACHE)}
    if gzipped:
        headers["Content-Encoding"] = "gzip"
    return headers


def media_headers(name: str) -> dict[str, str]:
    return {"Content-Type": content_type(name) or "application/octet-stream",
            "Cache-Control": MEDIA_CACHE, "Access-Control-Allow-Origin": "*",
            "X-Content-Type-Options": "nosniff"}


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
    if msn is not None:
        if edge.too_far(rung, msn, part):
            raise web.HTTPBadRequest(text=TOO_FAR)
        if not await edge.wait(rung, lambda: edge.has(rung, msn, part),
                               edge.blocking_timeout):
            raise web.HTTPServiceUnavailable(text=NOT_IN_TIME,
                                             headers={"Cache-Control": "no-store"})
    gzipped = accepts_gzip(request.headers.get("Accept-Encoding", ""))
    return web.Response(body=edge.playlist(rung, skip, gzipped),
                        headers=playlist_headers(edge, msn is not None, gzipped))


async def media(edge: LiveEdge, name: str) -> web.Response | None:
    """A part, segment or init segment held in memory; the hinted part is waited for.
    None: not the live edge's (the origin serves it from the directory, if there)."""
    data = edge.find(name)
    if data is None:
        rung = edge.hinted(name)
        if rung is None:
            return None
        await edge.wait(rung, lambda: edge.settled(rung, name), edge.blocking_timeout)
        data = edge.find(name)
        if data is None:
            raise web.HTTPNotFound(headers={"Cache-Control": "no-store"})
    return web.Response(body=data, headers=media_headers(name))
