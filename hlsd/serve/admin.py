"""The admin routes — `/metrics` (Prometheus text), `/info.json` (the daemon's live
figures), `/healthz` (200/503 JSON) — and the admin listener that serves them off the
viewers' port (`http.admin_listen`/`admin_port`), with the control routes
(hlsd.serve.control: POST /cue).

Without an admin listener the origin adds the read-only routes to the viewers' port
itself (`add_admin_routes`), as it always did; the control routes then exist nowhere
(the control socket remains). Every answer here is `Cache-Control: no-store`:
nothing of the daemon's state belongs in a cache."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from hlsd.publish.cues import CueDesk
from hlsd.serve.control import add_control_routes
from hlsd.serve.errors import NO_STORE, no_store_errors
from hlsd.serve.status import StreamStatus

__all__ = ["ADMIN_ROUTES", "AdminListener", "add_admin_routes", "json_response"]

ADMIN_ROUTES = ("/metrics", "/info.json", "/healthz")


def json_response(body: Any, status: int = 200,
                  cache_control: str = NO_STORE["Cache-Control"]) -> web.Response:
    return web.Response(text=json.dumps(body, default=str), status=status,
                        content_type="application/json",
                        headers={"Cache-Control": cache_control})


def add_admin_routes(router: web.UrlDispatcher, status: StreamStatus) -> None:
    async def info_json(request: web.Request) -> web.Response:
        return json_response(status.info())

    async def metrics_text(request: web.Request) -> web.Response:
        body, kind = status.metrics()
        response = web.Response(body=body, headers=NO_STORE)
        # prometheus-client's type carries its own parameters (version, charset)
        response.headers["Content-Type"] = kind
        return response

    async def healthz(request: web.Request) -> web.Response:
        ok, body = status.health()
        return json_response(body, 200 if ok else 503)

    router.add_get("/info.json", info_json)
    router.add_get("/metrics", metrics_text)
    router.add_get("/healthz", healthz)


class AdminListener:
    """The admin routes on a listener of their own, and the control routes when given
    the daemon's `cues`; `start()` returns its port."""

    def __init__(self, status: StreamStatus, cues: CueDesk | None = None) -> None:
        self._status = status
        self._cues = cues
        self._runner: web.AppRunner | None = None

    async def start(self, host: str, port: int) -> int:
        app = web.Application(middlewares=[no_store_errors])
        add_admin_routes(app.router, self._status)
        if self._cues is not None:
            add_control_routes(app.router, self._cues)
        runner = web.AppRunner(app, access_log=None, handle_signals=False,
                               shutdown_timeout=2.0)
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        return int(runner.addresses[0][1])

    async def stop(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()
