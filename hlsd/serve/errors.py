"""Error answers are never kept by a cache in front of the origin (a shield, a CDN, the
browser): a 404 for a part asked a moment too early, or a 503 after the blocking limit,
would otherwise be served in place of what exists a moment later. Whatever answers with
4xx or 5xx — a handler, the router, aiohttp's own — gets `Cache-Control: no-store` unless
it set one itself."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

__all__ = ["NO_STORE", "no_store_errors"]

NO_STORE = {"Cache-Control": "no-store"}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def no_store_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        if exc.status >= 400:
            exc.headers.setdefault("Cache-Control", NO_STORE["Cache-Control"])
        raise
    if response.status >= 400 and not response.prepared:
        response.headers.setdefault("Cache-Control", NO_STORE["Cache-Control"])
    return response
