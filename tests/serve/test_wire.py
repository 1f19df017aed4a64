"""The fast path's request recogniser: the plain GETs it takes, and everything it leaves
to aiohttp untouched."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hlsd.serve import wire

CHROMIUM = (b"Host: 127.0.0.1:8080\r\nConnection: keep-alive\r\n"
            b'sec-ch-ua: "Chromium";v="156"\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\n'
            b"Accept: */*\r\nReferer: http://127.0.0.1:8080/\r\n"
            b"Accept-Encoding: gzip, deflate, br, zstd\r\nAccept-Language: en-US,en;q=0.9\r\n")


def test_a_blocking_reload_as_chromium_sends_it() -> None:
    raw = b"GET /live_hi.m3u8?_HLS_msn=12&_HLS_part=3 HTTP/1.1\r\n" + CHROMIUM + b"\r\n"
    request = wire.parse(raw + b"GET /next")  # the next request's start stays unread
    assert request == wire.Request("live_hi.m3u8", {"_HLS_msn": "12", "_HLS_part": "3"},
                                   len(raw), True)


@pytest.mark.parametrize(("accept", "gzipped"), [
    (None, False), (b"gzip", True), (b"br, gzip;q=0", False), (b"*", True),
    (b"identity", False)])
def test_gzip_as_accept_encoding_says(accept: bytes | None, gzipped: bool) -> None:
    header = b"" if accept is None else b"Accept-Encoding: " + accept + b"\r\n"
    request = wire.parse(b"GET /a.m4s HTTP/1.1\r\nHost: x\r\n" + header + b"\r\n")
    assert isinstance(request, wire.Request) and request.gzip is gzipped


def test_incomplete_until_the_head_ends_then_handed_over_when_too_long() -> None:
    assert wire.parse(b"GET /a.m4s HTTP/1.1\r\nHost: x\r\n") is None
    assert wire.parse(b"GET /a.m4s HTTP/1.1\r\nX: " + b"y" * wire.MAX_HEAD) is wire.HANDOFF


@pytest.mark.parametrize("raw", [
    b"HEAD /a.m4s HTTP/1.1\r\n\r\n",
    b"POST /a.m4s HTTP/1.1\r\nContent-Length: 2\r\n\r\nab",
    b"GET /a.m4s HTTP/1.0\r\n\r\n",
    b"GET /a.m4s HTTP/1.1\r\nRange: bytes=0-9\r\n\r\n",
    b"GET /a.m3u8 HTTP/1.1\r\nIf-None-Match: \"x\"\r\n\r\n",
    b"GET /a.m3u8 HTTP/1.1\r\nIf-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\n",
    b"GET /a.m4s HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
    b"GET /a.m4s HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    b"GET /a.m4s HTTP/1.1\r\nConnection: close\r\n\r\n",
    b"GET /a.m4s HTTP/1.1\r\nConnection: keep-alive, Upgrade\r\nUpgrade: h2c\r\n\r\n",
    b"GET /a.m4s HTTP/1.1\r\nExpect: 100-continue\r\n\r\n",
    b"GET /a.m4s HTTP/1.1\r\nX: a\r\n folded\r\n\r\n",  # obs-fold
    b"GET /a.m4s HTTP/1.1\r\nX: a\nY: b\r\n\r\n",  # a bare LF
    b"GET /a.m4s HTTP/1.1\r\nX: a\rY: b\r\n\r\n",  # a bare CR
    b"GET /a.m4s HTTP/1.1\r\nX: a\x00\r\n\r\n",
    b"GET /a.m4s HTTP/1.1\r\nX : a\r\n\r\n",  # whitespace before the colon
    b"GET /a%2e.m4s HTTP/1.1\r\n\r\n",  # percent-encoding
    b"GET /sub/a.m4s HTTP/1.1\r\n\r\n",
    b"GET http://x/a.m4s HTTP/1.1\r\n\r\n",  # absolute form
    b"GET /a.m4s?x=1&x=2 HTTP/1.1\r\n\r\n",  # a key twice
    b"GET /a.m4s?flag HTTP/1.1\r\n\r\n",
    b"GET  /a.m4s HTTP/1.1\r\n\r\n",
    b"get /a.m4s HTTP/1.1\r\n\r\n",
    b"GET /a.m4s#frag HTTP/1.1\r\n\r\n",
])
def test_anything_else_is_left_to_aiohttp(raw: bytes) -> None:
    assert wire.parse(raw) is wire.HANDOFF


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300), st.binary(max_size=60))
def test_any_bytes_recognised_or_handed_over_never_an_exception(prefix: bytes,
                                                                  rest: bytes) -> None:
    for raw in (prefix, b"GET /a.m4s HTTP/1.1\r\n" + prefix + b"\r\n\r\n" + rest):
        request = wire.parse(raw)
        if isinstance(request, wire.Request):
            head = raw[:request.size]
            assert head.startswith(b"GET /") and head.endswith(b"\r\n\r\n")
            assert head.count(b"\n") == head.count(b"\r\n")  # no bare line feed
            assert all(0x20 <= b <= 0x7E or b in b"\r\n\t" for b in head)
            assert "/" not in request.name and "%" not in request.name


def test_a_response_is_whole_and_framed() -> None:
    answer = wire.response("200 OK", {"Content-Type": "video/iso.segment"}, b"abc",
                           "Thu, 01 Jan 1970 00:00:00 GMT")
    head, body = answer.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 200 OK\r\n") and body == b"abc"
    assert b"\r\nContent-Length: 3" in head and b"\r\nDate: Thu, 01 Jan 1970" in head
