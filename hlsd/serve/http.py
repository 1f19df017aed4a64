"""The optional HTTP origin: a copy destination's files, the player, metrics and health.

Routes: `/` player page, `/hls.min.js` a local hls.js (when there is one; see
hlsd.serve.hlsjs), `/stream.json` the page's figures (hlsd.serve.status), the admin
routes (`/info.json`, `/metrics`, `/healthz`: hlsd.serve.admin) unless an admin listener
of their own serves them (then they are 404 here; POST /cue is only there), and any
other path a file of the served directory: playlists through hlsd.serve.playlist (gzip,
ETag, 304), the rest as files (ranges, conditional requests). Files are served only from
inside that directory: a path with '..', an empty or hidden component, or one that
resolves (through symlinks) elsewhere is a 404, the same answer as for a file that does
not exist, so nothing leaks. Every answer says how long a cache may keep it (errors:
never; hlsd.serve.errors).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web

from hlsd.config.model import HttpSettings
from hlsd.publish.cues import CueDesk
from hlsd.publish.transfer.base import PLAYLIST_CONTENT_TYPE
from hlsd.serve import llhttp
from hlsd.serve.admin import ADMIN_ROUTES, AdminListener, add_admin_routes, json_response
from hlsd.serve.errors import no_store_errors
from hlsd.serve.fastpath import FastLive
from hlsd.serve.front import Front
from hlsd.serve.hlsjs import CACHE_CONTROL as HLS_JS_CACHE
from hlsd.serve.hlsjs import CONTENT_TYPE as HLS_JS_TYPE
from hlsd.serve.hlsjs import ROUTE, HlsJs
from hlsd.serve.live import LiveEdge
from hlsd.serve.player import player_page
from hlsd.serve.playlist import accepts_gzip, file_headers, gzip_body, playlist_response
from hlsd.serve.status import StreamStatus, stream_figures
from hlsd.serve.timeshift import Refused, TimeShift

__all__ = ["HttpOrigin", "StreamStatus"]

DEFAULT_MASTER = "live.m3u8"
GZIPPED_KEPT = 32  # compressed time-shift playlists kept
STREAM_JSON_CACHE = "max-age=1"  # every player page polls it: a shield answers for them


class HttpOrigin:
    """aiohttp server; `start()` binds settings.listen:settings.port (0: any free port),
    and settings.admin_listen:admin_port for the admin routes when set."""

    def __init__(self, settings: HttpSettings, directory: Path | None,
                 status: StreamStatus, hls_js: HlsJs | None = None,
                 live: LiveEdge | None = None, timeshift: TimeShift | None = None,
                 cues: CueDesk | None = None) -> None:
        """`cues`: the daemon's ad breaks, for POST /cue on the admin listener (only)."""
        self.settings = settings
        self._cues = cues
        self._timeshift = timeshift  # `?start=` spans of the time-shift window
        self._gzipped: dict[str, bytes] = {}  # time-shift playlists, oldest first
        self.hls_js = hls_js or HlsJs(settings.hls_js_url)  # default: the CDN
        self._directory = directory
        self._status = status
        self._live = live  # LL-HLS: playlists, parts and new segments from memory
        self._runner: web.AppRunner | None = None
        self._front: Front | None = None
        self._admin: AdminListener | None = None
        self._port: int | None = None
        self._admin_port: int | None = None

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application(middlewares=[no_store_errors])
        app.router.add_get("/", self._player)
        app.router.add_get("/stream.json", self._stream_json)
        if self.settings.admin_port is None:
            add_admin_routes(app.router, self._status)
        else:  # their own listener: here, not even a file of the served folder by that name
            for route in ADMIN_ROUTES:
                app.router.add_get(route, _not_found)
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
            if self.settings.admin_port is not None:
                admin = AdminListener(self._status, self._cues)
                self._admin_port = await admin.start(self.settings.admin_listen or "",
                                                     self.settings.admin_port)
                self._admin = admin
        except BaseException:
            if self._front is not None:
                front, self._front = self._front, None
                await front.stop()
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
        if self._admin is not None:
            admin, self._admin = self._admin, None
            await admin.stop()
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
        return _local_url(self.settings.listen, self.port)

    @property
    def admin_url(self) -> str | None:
        """Where the admin routes are from this machine; None: on the viewers' port."""
        if self._admin_port is None:
            return None
        return _local_url(self.settings.admin_listen or "", self._admin_port)

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

    async def _stream_json(self, request: web.Request) -> web.Response:
        return json_response(stream_figures(self._status), cache_control=STREAM_JSON_CACHE)

    async def _file(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["path"]
        if ("start" in request.query and self._timeshift is not None
                and self._timeshift.handles(name)):
            return await self._span(self._timeshift, request, name)
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


    async def _span(self, timeshift: TimeShift, request: web.Request,
                    name: str) -> web.Response:
        """A time-shift playlist: made for this request, so no ETag or 304."""
        try:
            text = await timeshift.playlist(name, request.query, self._directory)
        except Refused as exc:
            return web.Response(status=exc.status, text=exc.text)
        response = web.Response(headers={**file_headers(name), "Vary": "Accept-Encoding"})
        if not accepts_gzip(request.headers.get("Accept-Encoding", "")):
            response.body = text.encode()
            return response
        # The index hands out the same text object for the same span (its hash is kept):
        # a day-long span is compressed once, not at every player's reload.
        body = self._gzipped.get(text)
        if body is None:
            body = self._gzipped[text] = gzip_body(text.encode())
            while len(self._gzipped) > GZIPPED_KEPT:
                del self._gzipped[next(iter(self._gzipped))]
        response.body = body
        response.headers["Content-Encoding"] = "gzip"
        return response


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


def _local_url(listen: str, port: int) -> str:
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(listen, listen)
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/"


async def _not_found(request: web.Request) -> web.Response:
    raise web.HTTPNotFound()
