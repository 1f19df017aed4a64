"""The plain requests the LL-HLS fast path answers itself, recognised from raw bytes, and
the responses it writes. Pure: no I/O.

Only the simplest form is recognised: `GET <target> HTTP/1.1`, one path component of
unreserved characters, a query of `name=value` pairs of the same characters, headers that
change nothing about the answer. Anything else (HEAD, ranges, conditional requests, a
body, `Connection: close`, percent-encoding, obs-fold, bare LF, control bytes, HTTP/1.0,
an oversized head) is not parsed here at all: the connection goes to aiohttp, which
answers it fully and strictly. So this parser never has to reject anything."""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.utils import formatdate
from functools import lru_cache
from typing import Final

from hlsd.serve.playlist import accepts_gzip

MAX_HEAD: Final = 8190  # aiohttp's own limit: beyond it, aiohttp answers 431
END: Final = b"\r\n\r\n"
_REQUEST_LINE = re.compile(rb"GET (/[A-Za-z0-9._~-]+)(?:\?([A-Za-z0-9._~=&-]*))? HTTP/1\.1")
# Header fields after which the fast answer would not be the right one, or whose framing
# aiohttp must judge (a body, an upgrade, a close). Browsers send `Connection:
# keep-alive`, which changes nothing in HTTP/1.1.
_SPECIAL = re.compile(rb"\r\n(?:content-length|transfer-encoding|range|if-[a-z-]*|expect|"
                      rb"upgrade|connection(?![ \t]*:[ \t]*keep-alive[ \t]*(?:\r|$)))[ \t]*:",
                      re.IGNORECASE)
# Every header line a token, a colon and visible text (tabs, spaces): nothing else passes.
_FIELDS = re.compile(rb"(?:\r\n[!#$%&'*+.^_`|~0-9A-Za-z-]+:[\t\x20-\x7e]*)*")
_ACCEPT_ENCODING = re.compile(rb"\r\naccept-encoding:([\t\x20-\x7e]*)", re.IGNORECASE)


class Handoff:
    """Not a request this parser takes: aiohttp gets the connection."""


HANDOFF: Final = Handoff()


@dataclass(frozen=True, slots=True)
class Request:
    name: str  # the path without its leading '/'
    query: dict[str, str]
    size: int  # bytes the request took in the buffer
    gzip: bool  # Accept-Encoding admits gzip


def parse(buffer: bytes | bytearray) -> Request | Handoff | None:
    """The request at the start of `buffer`; None: incomplete, read more."""
    end = buffer.find(END, 0, MAX_HEAD + 4)
    if end < 0:
        return HANDOFF if len(buffer) > MAX_HEAD else None
    head = bytes(buffer[:end])
    line_end = head.find(b"\r\n")
    line = head if line_end < 0 else head[:line_end]
    match = _REQUEST_LINE.fullmatch(line)
    if match is None:
        return HANDOFF
    gzipped = False
    if line_end >= 0:
        fields = head[line_end:]
        if _FIELDS.fullmatch(fields) is None or _SPECIAL.search(fields) is not None:
            return HANDOFF
        accept = _ACCEPT_ENCODING.search(fields)
        gzipped = accept is not None and _gzip(accept[1].decode())
    query: dict[str, str] = {}
    if match[2]:
        for pair in match[2].decode().split("&"):
            key, eq, value = pair.partition("=")
            if not eq or key in query:  # a flag without value, or a key twice: aiohttp's
                return HANDOFF
            query[key] = value
    return Request(match[1][1:].decode(), query, end + len(END), gzipped)


@lru_cache(maxsize=64)
def _gzip(accept_encoding: str) -> bool:
    return accepts_gzip(accept_encoding)  # players send the same few values again and again


def response(status: str, headers: dict[str, str], body: bytes, date: str) -> bytes:
    """A whole response, head and body: written as is to every player waiting for it."""
    lines = [f"HTTP/1.1 {status}", f"Date: {date}", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class HttpDate:
    """The Date header's value, formatted once per second."""

    def __init__(self) -> None:
        self._second = -1
        self._text = ""

    def at(self, now: float) -> str:
        second = int(now)
        if second != self._second:
            self._second, self._text = second, formatdate(second, usegmt=True)
        return self._text
