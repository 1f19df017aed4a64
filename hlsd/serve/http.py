"""The optional HTTP origin: a copy destination's files, the player, metrics and health.

Routes: `/` player page, `/hls.min.js` a local hls.js (when there is one; see
hlsd.serve.hlsjs), `/info.json` the daemon's live figures, `/metrics`
Prometheus text, `/healthz` 200/503 JSON, and any other path a file of the served
directory: playlists through hlsd.serve.playlist (gzip, ETag, 304), the rest as files
(ranges, conditional requests). Files are served only from inside that directory: a path
with '..', an empty or hidden component, or one that resolves (through symlinks)
elsewhere is a 404, the same answer as for a file that does not exist, so nothing leaks.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Protocol

from aiohttp import web

from hlsd.config.model import HttpSettings
from hlsd.publish.transfer.base import PLAYLIST_CONTENT_TYPE
from hlsd.serve import llhttp
from hlsd.serve.fastpath import FastLive
from hlsd.serve.front import Front
from hlsd.serve.hlsjs import CACHE_CONTROL as HLS_JS_CACHE
from hlsd.serve.hlsjs import CONTENT_TYPE as HLS_JS_TYPE
from hlsd.serve.hlsjs import ROUTE, HlsJs
from hlsd.serve.live import LiveEdge
from hlsd.serve.player import player_page
from hlsd.serve.playlist import file_headers, playlist_response

__all__ = ["HttpOrigin", "StreamStatus"]

DEFAULT_MASTER = "live.m3u8"
NO_STORE = {"Cache-Control": "no-store"}


class StreamStatus(Protocol):
    """What the origin reports about the running stream (the service implements it)."""

    def health(self) -> tuple[bool, dict[str, Any]]:
        """(healthy, the /healthz body)."""

    def info(self) -> dict[str, Any]:
        """The live figures of /info.json; `master` names the master playlist."""

    def metrics(self) -> tuple[bytes, str]:
        """The /metrics body and its Content-Type."""


class HttpOrigin:
    """aiohttp server; `start()` binds settings.listen:settings.port (0: any free port)."""

    def __init__(self, settings: HttpSettings, directory: Path | None,
                 status: StreamStatus, hls_js: HlsJs | None = None,
                 live: LiveEdge | None = None) -> None:
        self.settings = settings
        self.hls_js = hls_js or HlsJs(settings.hls_js_url)  # default: the CDN
        self._directory = directory
        self._status = status
        self._live = live  # LL-HLS: playlists, parts and new segments from memory
        self._runner: web.AppRunner | None = None
        self._front: Front | None = None
        self._port: int | None = None

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/", self._player)
        app.router.add_get("/info.json", self._info_json)
        app.router.add_get("/metrics", self._metrics_text)
        app.router.add_get("/healthz", self._healthz)
        if self.hls_js.local is not None:
            app.router.add_get(ROUTE, self._hls_js)  # before the served directory's files
        app.router.add_get("/{path:.+}", self._file)
        # No access log: the daemon logs through structlog, and players poll every second.
        # A short shutdown timeout: players keep requests open and must not delay a stop.
        runner = web.AppRunner(app, access_log=None, handle_signals=False,
                               shutdown_timeout=2.0)
        await runner.setup()
        try:
            if self._live is None:
                site = web.TCPSite(runner, self.settings.listen, self.settings.port)
                await site.start()
                self._port = int(runner.addresses[0][1])
            else:  # LL-HLS: the fast path first, aiohttp for the rest (hlsd.serve.front)
                server = runner.server
                assert server is not None
                live = FastLive(self._live, lambda: self._directory, resolve_inside)
                self._front = Front(live, server)
                self._port = await self._front.start(self.settings.listen,
                                                     self.settings.port)
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner

    @property
    def directory(self) -> Path | None:
        return self._directory

    def serve(self, directory: Path | None) -> None:
        """Serve another folder from now on (a reload changed the served destination)."""
        self._directory = directory

    async def stop(self) -> None:
        if self._front is not None:
            front, self._front = self._front, None
            await front.stop()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("HttpOrigin is not started")
        return self._port

    @property
    def url(self) -> str:
        """Where a browser on this machine reaches the player (a wildcard bind → loopback)."""
        host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(
            self.settings.listen, self.settings.listen)
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}/"

    # -- handlers ----------------------------------------------------------------------

    async def _player(self, request: web.Request) -> web.Response:
        info = self._status.info()
        master = str(info.get("master") or DEFAULT_MASTER)
        part_target = info.get("part_target") if info.get("low_latency") is True else None
        return web.Response(text=player_page(self.hls_js, master, _number(part_target)),
                            content_type="text/html", charset="utf-8",
                            headers={"Cache-Control": "no-cache"})

    async def _hls_js(self, request: web.Request) -> web.StreamResponse:
        assert self.hls_js.local is not None
        return web.FileResponse(self.hls_js.local, headers={
            "Content-Type": HLS_JS_TYPE, "Cache-Control": HLS_JS_CACHE,
            "X-Content-Type-Options": "nosniff"})

    async def _info_json(self, request: web.Request) -> web.Response:
        return _json(self._status.info(), 200)

    async def _metrics_text(self, request: web.Request) -> web.Response:
        body, kind = self._status.metrics()
        response = web.Response(body=body, headers=NO_STORE)
        # prometheus-client's type carries its own parameters (version, charset)
        response.headers["Content-Type"] = kind
        return response

    async def _healthz(self, request: web.Request) -> web.Response:
        ok, body = self._status.health()
        return _json(body, 200 if ok else 503)

    async def _file(self, request: web.Request) -> web.StreamResponse:
        if self._live is not None:
            name = request.match_info["path"]
            rung = self._live.rung_of(name)
            if rung is not None:
                return await llhttp.playlist(self._live, rung, request)
            found = await llhttp.media(self._live, name)
            if found is not None:
                return found
        path = None if self._directory is None else resolve_inside(
            self._directory, request.match_info["path"])
        if path is None:
            raise web.HTTPNotFound()
        headers = file_headers(path.name)
        # a playlist is small and ever changing: gzip, ETag, 304
        if headers["Content-Type"] == PLAYLIST_CONTENT_TYPE:
            return await playlist_response(request, path, headers)
        # FileResponse answers HEAD, ranges and conditional requests, and 404s a file
        # deleted (by retention) between the check above and the open.
        return web.FileResponse(path, headers=headers)


def resolve_inside(root: Path, rel: str) -> Path | None:
    """The regular file `rel` names inside `root`, or None if it is missing or outside.

    `rel` is the already percent-decoded URL path without its leading '/'. Hidden
    names are refused too: they are the publishers' temporary files mid-rename.
    """
    if "\\" in rel or "\0" in rel:
        return None
    parts = rel.split("/")
    if any(p in ("", ".", "..") or p.startswith(".") for p in parts):
        return None
    try:
        base = root.resolve(strict=True)
        real = base.joinpath(*parts).resolve(strict=True)
    except (OSError, RuntimeError):  # missing, a symlink loop, a name too long
        return None
    if not real.is_relative_to(base) or not real.is_file():
        return None
    return real


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _json(body: Any, status: int) -> web.Response:
    return web.Response(text=json.dumps(body, default=str), status=status,
                        content_type="application/json", headers=NO_STORE)
