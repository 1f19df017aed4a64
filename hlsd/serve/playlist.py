"""Playlists as the origin sends them: read whole, validated, compressed in memory.

A playlist is small and changes with every segment, so each request reads the file as it
is (publishers rename a complete file into place: an open file is one whole version) and
answers with a strong ETag (a hash of the bytes sent), Last-Modified, `Vary:
Accept-Encoding`, a gzip body when the client accepts one (Apple's HLS authoring
specification, rule 10.1), and 304 to a conditional request whose copy is still current
(RFC 9110 §13.1.2 If-None-Match, §13.1.3 If-Modified-Since).
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import math
import mimetypes
import os
import time
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from hlsd.config.model import PLAYLIST_CACHE_CONTROL, SEGMENT_CACHE_CONTROL
from hlsd.publish.transfer.base import cache_control, content_type

__all__ = ["PlaylistFile", "accepts_gzip", "file_headers", "gzip_body", "playlist_response"]

OTHER_FILE_CACHE_CONTROL = "no-cache"
# File times come from the kernel's coarse clock, which may trail time.time() by a tick.
CLOCK_SLACK = 0.05


@dataclass(frozen=True)
class PlaylistFile:
    """One version of a playlist file, and when it was read."""

    body: bytes
    changed: float  # epoch seconds: the later of mtime and ctime (a rename sets ctime)
    read_at: float  # epoch seconds, taken before the file was opened

    @classmethod
    def read(cls, path: Path) -> PlaylistFile:
        """Blocking; raises OSError (FileNotFoundError: removed in the meantime)."""
        read_at = time.time()
        with open(path, "rb") as f:
            st = os.fstat(f.fileno())
            body = f.read()
        return cls(body, max(st.st_mtime, st.st_ctime), read_at)

    def etag(self, gzipped: bool) -> str:
        """Strong: the same bytes, the same tag; the gzip representation has its own."""
        digest = hashlib.blake2b(self.body, digest_size=12).hexdigest()
        return digest + ("-gzip" if gzipped else "")

    @property
    def changed_second(self) -> int:
        return math.floor(self.changed)

    @property
    def last_modified(self) -> int:
        """Last-Modified to send (epoch seconds).

        HTTP dates have one-second steps, and a live playlist may change twice within a
        second. A version read once its second was over is the last of that second (any
        later one gets a later time), so its second is a safe validator. A version read
        within its own second is dated one second earlier: a later If-Modified-Since with
        that date gets the whole playlist again (never a 304 for a copy that is stale).
        """
        second = min(self.changed_second, math.floor(self.read_at))
        settled = self.read_at >= second + 1 + CLOCK_SLACK
        return second if settled else second - 1

    def unchanged_since(self, date: float) -> bool:
        """If-Modified-Since: this version was already the current one at `date`."""
        return self.changed_second <= date


def file_headers(name: str) -> dict[str, str]:
    """The origin's headers for a file it serves: type, caching, CORS."""
    headers = {"X-Content-Type-Options": "nosniff"}
    kind = content_type(name)
    if kind is None:
        headers["Content-Type"] = mimetypes.guess_type(name)[0] or "application/octet-stream"
        # not the stream's: a cache asks again each time (ETag, Last-Modified: a 304)
        headers["Cache-Control"] = OTHER_FILE_CACHE_CONTROL
        return headers
    headers["Content-Type"] = kind
    headers["Cache-Control"] = cache_control(name, PLAYLIST_CACHE_CONTROL,
                                             SEGMENT_CACHE_CONTROL)
    # Players on other origins (a web page elsewhere) may fetch the stream.
    headers["Access-Control-Allow-Origin"] = "*"
    return headers


def gzip_body(body: bytes) -> bytes:
    """mtime=0: the same playlist always compresses to the same bytes (one ETag)."""
    return gzip.compress(body, compresslevel=6, mtime=0)


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an Accept-Encoding value admits gzip (RFC 9110 §12.5.3): named, or by `*`,
    with a q-value above 0."""
    weights: dict[str, float] = {}
    for item in accept_encoding.split(","):
        coding, *params = (p.strip() for p in item.split(";"))
        weight = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        if coding:
            weights[coding.lower()] = weight
    for coding in ("gzip", "x-gzip", "*"):
        if coding in weights:
            return weights[coding] > 0
    return False


async def playlist_response(request: web.Request, path: Path,
                            headers: dict[str, str]) -> web.Response:
    """The answer to GET/HEAD of the playlist at `path` (already resolved inside the served
    directory); `headers` are the origin's own (type, caching, CORS)."""
    try:
        playlist = await asyncio.to_thread(PlaylistFile.read, path)
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        raise web.HTTPNotFound() from None
    gzipped = accepts_gzip(request.headers.get("Accept-Encoding", ""))
    tag = playlist.etag(gzipped)
    headers = {**headers, "Vary": "Accept-Encoding"}
    not_modified = _not_modified(request, playlist, tag)
    response = web.Response(status=304 if not_modified else 200, headers=headers)
    response.etag = tag
    response.last_modified = playlist.last_modified
    if not_modified:
        return response
    if gzipped:
        response.body = gzip_body(playlist.body)
        response.headers["Content-Encoding"] = "gzip"
    else:
        response.body = playlist.body
    return response


def _not_modified(request: web.Request, playlist: PlaylistFile, tag: str) -> bool:
    """RFC 9110 §13.2.2: If-None-Match decides when present (weak comparison), else
    If-Modified-Since."""
    candidates = request.if_none_match
    if candidates is not None:
        return any(c.value in ("*", tag) for c in candidates)
    since = request.if_modified_since
    return since is not None and playlist.unchanged_since(since.timestamp())
