"""Playlists from the HTTP origin: gzip, a strong ETag, Last-Modified and 304, against the
real origin over TCP with a real HTTP client; the date rules as pure functions."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import math
import os
import time
from collections.abc import AsyncIterator
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path

import aiohttp
import pytest

from hlsd.config import HttpSettings
from hlsd.serve.http import HttpOrigin
from hlsd.serve.playlist import PlaylistFile, accepts_gzip
from hlsd.service.health import evaluate
from hlsd.service.metrics import Metrics
from tests.daemon_util import until
from tests.serve.test_http import Status

# Long enough that gzip pays: a live window of a few dozen segments.
PLAYLIST = b"#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:4\n" + b"".join(
    b"#EXTINF:4.000,\nlive_ep_720p-%05d.ts\n" % i for i in range(30))
SEGMENT = b"\x47" + bytes(187) * 3
IDENTITY = {"Accept-Encoding": "identity"}
GZIP = {"Accept-Encoding": "gzip"}


class Served:
    def __init__(self, http: HttpOrigin, directory: Path) -> None:
        self.http = http
        self.directory = directory

    def url(self, name: str) -> str:
        return self.http.url + name

    def publish(self, name: str, body: bytes) -> None:
        """As a publisher does: a hidden temporary file renamed into place."""
        tmp = self.directory / f".{name}.tmp"
        tmp.write_bytes(body)
        tmp.replace(self.directory / name)


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    www = tmp_path / "www"
    www.mkdir()
    (www / "live.m3u8").write_bytes(PLAYLIST)
    (www / "live_ep_720p-00001.ts").write_bytes(SEGMENT)
    http = HttpOrigin(HttpSettings(listen="127.0.0.1", port=0), www,
                      Status(Metrics(), lambda: evaluate({}, 0, 1, 0), lambda: {}))
    await http.start()
    try:
        yield Served(http, www)
    finally:
        await http.stop()


def raw_client() -> aiohttp.ClientSession:
    """A client that hands over bodies as sent (no transparent gunzip)."""
    return aiohttp.ClientSession(auto_decompress=False)


async def test_gzip_when_accepted_identity_otherwise(served: Served) -> None:
    async with raw_client() as client:
        async with client.get(served.url("live.m3u8"), headers=GZIP) as r:
            assert r.status == 200
            assert r.headers["Content-Encoding"] == "gzip"
            assert r.headers["Vary"] == "Accept-Encoding"
            assert r.headers["Content-Type"] == "application/vnd.apple.mpegurl"
            assert r.headers["Cache-Control"] == "max-age=1"  # unchanged
            body = await r.read()
            assert int(r.headers["Content-Length"]) == len(body) < len(PLAYLIST)
            assert gzip.decompress(body) == PLAYLIST
        for refused in (IDENTITY, {"Accept-Encoding": "gzip;q=0, deflate"}, {}):
            async with client.get(served.url("live.m3u8"), headers=refused,
                                  skip_auto_headers=["Accept-Encoding"]) as r:
                assert r.status == 200 and "Content-Encoding" not in r.headers, refused
                assert r.headers["Vary"] == "Accept-Encoding"
                assert await r.read() == PLAYLIST


async def test_etag_is_stable_while_unchanged_and_answers_304(served: Served) -> None:
    """1. two GETs: one strong ETag, 2. If-None-Match with it: 304 with the validators and
    no body, 3. the playlist is replaced: the old tag gets 200, the new body, a new tag,
    4. the gzip representation has a tag of its own, also answered 304."""
    async with raw_client() as client:
        tags = []
        for _ in range(2):
            async with client.get(served.url("live.m3u8"), headers=IDENTITY) as r:
                tags.append(r.headers["ETag"])
                last_modified = r.headers["Last-Modified"]
        assert tags[0] == tags[1] and tags[0].startswith('"') and not tags[0].startswith("W/")
        async with client.get(served.url("live.m3u8"),
                              headers={**IDENTITY, "If-None-Match": tags[0]}) as r:
            assert r.status == 304
            assert r.headers["ETag"] == tags[0]
            assert r.headers["Last-Modified"] == last_modified
            assert r.headers["Cache-Control"] == "max-age=1"
            assert r.headers["Vary"] == "Accept-Encoding"
            assert await r.read() == b""
        async with client.get(served.url("live.m3u8"),
                              headers={**IDENTITY, "If-None-Match": f'"x", W/{tags[0]}'}) as r:
            assert r.status == 304  # weak comparison, any of a list

        served.publish("live.m3u8", PLAYLIST + b"#EXTINF:4.000,\nlive_ep_720p-00030.ts\n")
        async with client.get(served.url("live.m3u8"),
                              headers={**IDENTITY, "If-None-Match": tags[0]}) as r:
            assert r.status == 200
            assert (await r.read()).endswith(b"00030.ts\n")
            fresh = r.headers["ETag"]
        assert fresh != tags[0]

        async with client.get(served.url("live.m3u8"), headers=GZIP) as r:
            zipped = r.headers["ETag"]
        assert zipped not in (fresh, tags[0])
        async with client.get(served.url("live.m3u8"),
                              headers={**GZIP, "If-None-Match": zipped}) as r:
            assert r.status == 304 and r.headers["ETag"] == zipped
        async with client.get(served.url("live.m3u8"),
                              headers={**GZIP, "If-None-Match": fresh}) as r:
            assert r.status == 200 and r.headers["Content-Encoding"] == "gzip"


async def test_head_has_the_headers_and_no_body(served: Served) -> None:
    async with raw_client() as client:
        async with client.get(served.url("live.m3u8"), headers=GZIP) as r:
            size, tag = len(await r.read()), r.headers["ETag"]
        async with client.head(served.url("live.m3u8"), headers=GZIP) as r:
            assert r.status == 200
            assert r.headers["Content-Encoding"] == "gzip"
            assert int(r.headers["Content-Length"]) == size
            assert r.headers["ETag"] == tag and "Last-Modified" in r.headers
            assert await r.read() == b""
        async with client.head(served.url("live.m3u8"),
                               headers={**GZIP, "If-None-Match": tag}) as r:
            assert r.status == 304
        async with client.head(served.url("missing.m3u8")) as r:
            assert r.status == 404


async def test_if_modified_since(served: Served) -> None:
    """1. once the playlist's second is over, GET: Last-Modified is that second,
    2. If-Modified-Since with it: 304, 3. a new version: 200 and its body."""
    st = (served.directory / "live.m3u8").stat()
    settled = math.floor(max(st.st_mtime, st.st_ctime)) + 1.1
    await until(lambda: time.time() >= settled, timeout=3)
    async with raw_client() as client:
        async with client.get(served.url("live.m3u8"), headers=IDENTITY) as r:
            since = r.headers["Last-Modified"]
        assert parsedate_to_datetime(since).timestamp() == settled - 1.1
        async with client.get(served.url("live.m3u8"),
                              headers={**IDENTITY, "If-Modified-Since": since}) as r:
            assert r.status == 304 and await r.read() == b""
        served.publish("live.m3u8", b"#EXTM3U\n")
        async with client.get(served.url("live.m3u8"),
                              headers={**IDENTITY, "If-Modified-Since": since}) as r:
            assert r.status == 200 and await r.read() == b"#EXTM3U\n"
        # If-None-Match decides when both are sent (RFC 9110 §13.2.2)
        async with client.get(served.url("live.m3u8"), headers={
                **IDENTITY, "If-Modified-Since": formatdate(time.time() + 60, usegmt=True),
                "If-None-Match": '"other"'}) as r:
            assert r.status == 200


async def test_never_half_a_playlist_while_versions_are_renamed_in(served: Served) -> None:
    """A publisher renames 300 versions into place while a client fetches: every body is
    one whole version, and its ETag is that version's."""
    versions = [PLAYLIST, PLAYLIST[: len(PLAYLIST) // 3], PLAYLIST + PLAYLIST]
    tags = {hashlib.blake2b(v, digest_size=12).hexdigest(): v for v in versions}
    stop = asyncio.Event()

    async def publisher() -> None:
        for i in range(300):
            await asyncio.to_thread(served.publish, "live.m3u8", versions[i % 3])
        stop.set()

    seen = 0
    async with raw_client() as client:
        task = asyncio.create_task(publisher())
        while not stop.is_set():
            async with client.get(served.url("live.m3u8"), headers=IDENTITY) as r:
                body = await r.read()
                assert r.status == 200
                assert tags.get(r.headers["ETag"].strip('"')) == body
                seen += 1
        await task
    assert seen > 0


async def test_segments_keep_ranges_and_file_validators(served: Served) -> None:
    async with raw_client() as client:
        async with client.get(served.url("live_ep_720p-00001.ts"),
                              headers={"Range": "bytes=0-187"}) as r:
            assert r.status == 206 and await r.read() == SEGMENT[:188]
            assert "Content-Encoding" not in r.headers
            tag = r.headers["ETag"]
        async with client.get(served.url("live_ep_720p-00001.ts"),
                              headers={"If-None-Match": tag}) as r:
            assert r.status == 304
            assert r.headers["Cache-Control"] == "max-age=31536000, immutable"


def test_accepts_gzip() -> None:
    for value in ["gzip", "GZip", "deflate, gzip;q=0.5", "*", "x-gzip", "br;q=1, *;q=0.1"]:
        assert accepts_gzip(value), value
    for value in ["", "identity", "gzip;q=0", "gzip;q=0.000", "*;q=0", "deflate, br",
                  "gzip;q=0, *", "gzip;q=x"]:
        assert not accepts_gzip(value), value


def test_last_modified_is_safe_when_a_second_holds_two_versions() -> None:
    """A playlist renamed in at 100.2 and read at 100.5 is dated 99: a client holding it
    asks If-Modified-Since 99 and gets the version of 100.7, never a 304."""
    early = PlaylistFile(b"a", changed=100.2, read_at=100.5)
    assert early.last_modified == 99
    later = PlaylistFile(b"b", changed=100.7, read_at=101.5)
    assert not later.unchanged_since(early.last_modified)
    # read once its second was over, a version is the last of that second
    settled = PlaylistFile(b"b", changed=100.7, read_at=101.2)
    assert settled.last_modified == 100 and settled.unchanged_since(100)
    assert not PlaylistFile(b"c", changed=101.0, read_at=101.2).unchanged_since(100)
    # within the kernel clock's slack of the second's end: not yet settled
    assert PlaylistFile(b"b", changed=100.7, read_at=101.01).last_modified == 99
    # a file time in the future (a skewed clock) is never sent as such
    assert PlaylistFile(b"d", changed=500.0, read_at=101.2).last_modified <= 101


def test_read_takes_the_later_of_mtime_and_ctime(tmp_path: Path) -> None:
    path = tmp_path / "p.m3u8"
    path.write_bytes(b"#EXTM3U\n")
    os.utime(path, (1_000_000, 1_000_000))  # an old mtime, as a copy might keep
    snapshot = PlaylistFile.read(path)
    assert snapshot.body == b"#EXTM3U\n"
    assert snapshot.changed == pytest.approx(path.stat().st_ctime)
    assert snapshot.changed > 1_000_000 and snapshot.read_at <= time.time()
