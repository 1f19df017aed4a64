"""The daemon's optional HTTP origin across its life: started with the config, rebound
or re-pointed by a reload, stopped last."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from hlsd import config as cfg
from hlsd.serve.hlsjs import choose_hls_js

if TYPE_CHECKING:
    from hlsd.publish.cues import CueDesk
    from hlsd.serve.http import HttpOrigin, StreamStatus
    from hlsd.serve.live import LiveEdge
    from hlsd.serve.timeshift import TimeShift

log = structlog.get_logger()


class OriginError(Exception):
    """The origin cannot listen (port taken, address not local): the operator must fix it."""


def served_profile(config: cfg.Config) -> cfg.CopyProfile | None:
    """The copy destination the origin serves: `http.serve`, else the first copy one."""
    copies = [p for p in config.transfer_profiles if isinstance(p, cfg.CopyProfile)]
    serve = config.http.serve if config.http else None
    return next((p for p in copies if p.name == serve), copies[0] if copies else None)


def served_directory(config: cfg.Config) -> Path | None:
    served = served_profile(config)
    return served.directory if served else None


class Origin:
    """Starts the HttpOrigin when the config has `http:`; `on_listening(url)` is told
    each time it starts listening (the demo prints the URL)."""

    def __init__(self, status: StreamStatus,
                 on_listening: Callable[[str], None] | None = None,
                 live: LiveEdge | None = None, timeshift: TimeShift | None = None,
                 cues: CueDesk | None = None) -> None:
        self._status = status
        self._cues = cues  # POST /cue on the admin listener
        self._live = live
        self._timeshift = timeshift
        self._on_listening = on_listening
        self.http: HttpOrigin | None = None  # None while not listening
        self._listening = asyncio.Event()

    async def start(self, config: cfg.Config) -> None:
        if config.http is None:
            return
        # aiohttp is imported only by daemons that serve HTTP.
        from hlsd.serve.http import HttpOrigin

        settings = config.http
        hls_js = choose_hls_js(settings)
        if settings.hls_js_path is not None and hls_js.local != settings.hls_js_path.resolve():
            log.warning("http.hls_js_path is no file (any more)", path=str(settings.hls_js_path))
        self._serve_timeshift(config)
        http = HttpOrigin(settings, served_directory(config), self._status, hls_js,
                          self._live if config.low_latency else None, self._timeshift,
                          self._cues)
        try:
            await http.start()
        except OSError as exc:
            where = f"{settings.listen}:{settings.port}"
            if settings.admin_port is not None:
                where += f" (admin {settings.admin_listen}:{settings.admin_port})"
            raise OriginError(f"http {where}: {exc.strerror or exc}") from None
        self.http = http
        self._listening.set()
        log.info("http origin listening", url=http.url, directory=str(http.directory),
                 hls_js=hls_js.source, hls_js_from=str(hls_js.local or hls_js.url),
                 admin=http.admin_url)  # None: the admin routes are on the viewers' port
        if self._on_listening is not None:
            self._on_listening(http.url)

    async def apply(self, old: cfg.Config, new: cfg.Config) -> None:
        """Rebind only when the HTTP settings changed; a new served folder is swapped in."""
        if (old.http, old.low_latency) == (new.http, new.low_latency):
            if self.http is not None:
                self.http.serve(served_directory(new))
                self._serve_timeshift(new)
            return
        await self.stop()
        try:
            await self.start(new)
        except OriginError as exc:  # the stream goes on; only the origin is missing
            log.error("http origin not restarted", reason=str(exc))

    def _serve_timeshift(self, config: cfg.Config) -> None:
        if self._timeshift is not None:
            served = served_profile(config)
            self._timeshift.served = served.name if served else None

    async def listening(self) -> HttpOrigin:
        """The origin, once it listens."""
        while self.http is None:  # set again by a reload's rebind
            self._listening.clear()
            await self._listening.wait()
        return self.http

    async def stop(self) -> None:
        if self.http is not None:
            await self.http.stop()
            self.http = None
