"""The LL-HLS answers of the front's fast path: the same as hlsd.serve.llhttp gives
through aiohttp, but each a whole response rendered once and written as is to every
player waiting for it — when a part arrives, the players of its rung all wake at once.

A request this module does not take (an error to explain, a file of the served folder
other than a playlist) is left to aiohttp: `answer` returns False."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate
from functools import partial
from pathlib import Path
from typing import Protocol

from hlsd.serve import llhttp
from hlsd.serve.live import LiveEdge
from hlsd.serve.playlist import PlaylistFile, file_headers, gzip_body
from hlsd.serve.wire import HttpDate, Request, response

MEDIA_RESPONSES = 256  # rendered responses of parts and segments kept (a few windows)
EXPIRY_STEP = 0.25  # seconds between looks for blocked requests that waited too long


class Reply(Protocol):
    """Where an answer goes: a connection waiting for exactly one response."""

    @property
    def closed(self) -> bool: ...

    def send(self, data: bytes) -> None: ...


@dataclass(eq=False, slots=True)
class _Waiter:
    reply: Reply
    answer: Callable[[], bytes]
    expired: Callable[[], bytes]
    deadline: float  # time.monotonic()


@dataclass(eq=False, slots=True)
class _Group:
    """Everyone waiting for the same thing (a part, or a playlist holding it): readiness is
    checked once per change for all of them."""

    ready: Callable[[], bool]
    waiters: dict[_Waiter, None]  # in arrival order: the first to expire come first


class FastLive:
    """Answers from the LiveEdge (and playlists from `directory()`, the served folder)."""

    def __init__(self, edge: LiveEdge, directory: Callable[[], Path | None],
                 resolve: Callable[[Path, str], Path | None]) -> None:
        self.edge = edge
        self._directory = directory
        self._resolve = resolve
        self._date = HttpDate()
        self._waiting: dict[str, dict[object, _Group]] = {}  # per rung, per awaited thing
        self._expiry: asyncio.TimerHandle | None = None
        self._playlists: dict[tuple[str, bool, bool, bool], tuple[int, str, bytes]] = {}
        self._media: dict[str, tuple[str, bytes, bytes]] = {}  # name → (date, data, answer)
        self._unlisten = edge.listen(self._changed)
        # what a request gets when the limit passes: made once, not per blocked request
        self._not_found = self._error("404 Not Found", "Not Found\n")
        self._not_in_time = self._error("503 Service Unavailable", llhttp.NOT_IN_TIME)

    def close(self) -> None:
        self._unlisten()
        self._unlisten = lambda: None  # closing twice is harmless
        if self._expiry is not None:
            self._expiry.cancel()
        self._waiting.clear()

    @property
    def parked(self) -> int:
        """Requests held until what they ask for exists (or their limit passes)."""
        return sum(len(group.waiters) for groups in self._waiting.values()
                   for group in groups.values())

    def answer(self, request: Request, reply: Reply) -> bool:
        """Answer now or once ready (False: aiohttp's to answer)."""
        if "start" in request.query:  # a time-shift span (hlsd.serve.timeshift)
            return False
        rung = self.edge.rung_of(request.name)
        if rung is not None:
            return self._playlist(rung, request, reply)
        data = self.edge.find(request.name)
        if data is not None:
            reply.send(self._media_answer(request.name, data))
            return True
        rung = self.edge.hinted(request.name)
        if rung is not None:
            name = request.name
            self._wait(rung, name, lambda: self.edge.settled(rung, name), _Waiter(
                reply, lambda: self._found(name), self._not_found, 0.0))
            return True
        if request.name.endswith(".m3u8"):
            return self._file_playlist(request, reply)
        return False

    # -- live playlists -------------------------------------------------------------------
    def _playlist(self, rung: str, request: Request, reply: Reply) -> bool:
        query = request.query
        msn_text, part_text = query.get("_HLS_msn"), query.get("_HLS_part")
        skip = query.get("_HLS_skip") in ("YES", "v2")
        if part_text is not None and (msn_text is None or not part_text.isdigit()):
            return False  # aiohttp explains the 400
        if msn_text is None:
            reply.send(self._playlist_answer(rung, skip, False, request.gzip))
            return True
        if not msn_text.isdigit():
            return False
        msn, part = int(msn_text), None if part_text is None else int(part_text)
        if self.edge.too_far(rung, msn, part):
            return False
        answer = partial(self._playlist_answer, rung, skip, True, request.gzip)
        if self.edge.has(rung, msn, part):
            reply.send(answer())
        else:
            self._wait(rung, (msn, part), lambda: self.edge.has(rung, msn, part), _Waiter(
                reply, answer, self._not_in_time, 0.0))
        return True

    def _playlist_answer(self, rung: str, skip: bool, blocking: bool, gzipped: bool) -> bytes:
        key = (rung, skip, blocking, gzipped)
        date = self._date.at(time.time())
        cached = self._playlists.get(key)
        if cached is not None and cached[0] == self.edge.version and cached[1] == date:
            return cached[2]
        answer = response("200 OK", llhttp.playlist_headers(self.edge, blocking, gzipped),
                          self.edge.playlist(rung, skip, gzipped), date)
        self._playlists[key] = (self.edge.version, date, answer)
        return answer

    def _file_playlist(self, request: Request, reply: Reply) -> bool:
        """A playlist of the served folder (the master): read whole, as aiohttp does. Read
        on the loop: a few kB from the page cache cost less than a thread hop."""
        directory = self._directory()
        path = None if directory is None else self._resolve(directory, request.name)
        if path is None:
            return False
        try:
            playlist = PlaylistFile.read(path)
        except OSError:
            return False
        body = playlist.body
        headers = {**file_headers(request.name), "Vary": "Accept-Encoding",
                   "ETag": f'"{playlist.etag(request.gzip)}"',
                   "Last-Modified": formatdate(playlist.last_modified, usegmt=True)}
        if request.gzip:
            body = gzip_body(body)
            headers["Content-Encoding"] = "gzip"
        reply.send(response("200 OK", headers, body, self._date.at(time.time())))
        return True

    # -- parts, segments, init segments -------------------------------------------------------
    def _media_answer(self, name: str, data: bytes) -> bytes:
        date = self._date.at(time.time())
        cached = self._media.get(name)
        if cached is not None and cached[0] == date and cached[1] is data:
            return cached[2]
        if len(self._media) >= MEDIA_RESPONSES:
            self._media.clear()
        answer = response("200 OK", llhttp.media_headers(name), data, date)
        self._media[name] = (date, data, answer)
        return answer

    def _found(self, name: str) -> bytes:
        """The hinted part once settled: itself, or 404 (its segment became a gap)."""
        data = self.edge.find(name)
        return self._not_found() if data is None else self._media_answer(name, data)

    def _error(self, status: str, text: str) -> Callable[[], bytes]:
        return lambda: response(status, {"Content-Type": "text/plain; charset=utf-8",
                                         "Cache-Control": "no-store"},
                                text.encode(), self._date.at(time.time()))

    # -- waiting --------------------------------------------------------------------------
    def _wait(self, rung: str, key: object, ready: Callable[[], bool], waiter: _Waiter) -> None:
        waiter.deadline = time.monotonic() + self.edge.blocking_timeout
        groups = self._waiting.setdefault(rung, {})
        group = groups.get(key)
        if group is None:
            group = groups[key] = _Group(ready, {})
        group.waiters[waiter] = None
        if self._expiry is None:
            self._expiry = asyncio.get_running_loop().call_later(EXPIRY_STEP, self._expire)

    def _expire(self) -> None:
        """Answer whoever waited too long (one look every EXPIRY_STEP, not one timer per
        request: a blocking request's limit is seconds, its precision need not be finer)."""
        now = time.monotonic()
        for groups in self._waiting.values():
            for key, group in list(groups.items()):
                for waiter in list(group.waiters):
                    if waiter.deadline > now:
                        break  # the rest arrived later
                    del group.waiters[waiter]
                    if not waiter.reply.closed:
                        waiter.reply.send(waiter.answer() if group.ready() else waiter.expired())
                if not group.waiters:
                    del groups[key]
        waiting = any(groups for groups in self._waiting.values())
        self._expiry = (asyncio.get_running_loop().call_later(EXPIRY_STEP, self._expire)
                        if waiting else None)

    def _changed(self, rung: str) -> None:
        groups = self._waiting.get(rung)
        if not groups:
            return
        for key in [k for k, group in groups.items() if group.ready()]:
            for waiter in groups.pop(key).waiters:
                if not waiter.reply.closed:
                    waiter.reply.send(waiter.answer())
