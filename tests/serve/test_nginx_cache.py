"""The cache tier: etc/nginx/hlsd-cache.conf run by a real nginx in front of a real LL-HLS
daemon. Blocking reloads pass through, identical concurrent requests reach the origin
once, parts are served from the cache, errors are not kept."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import aiohttp
import pytest

from tests.daemon_util import FAST_X264, read, running, until, wait_for, write_config
from tests.fixtures.nginx_cache import Logged, NginxCache, nginx_binary
from tests.serve.test_lowlatency import LOADED, last_part, one_part_more, parts, tags
from tests.serve.test_playback import origin_url

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

PART = 0.5
SOURCE = "ffmpeg -re -f lavfi -i testsrc2=size=192x108:rate=25"
CONCURRENT = 20


@dataclass
class Tier:
    origin: str  # hlsd's origin, direct
    cache: NginxCache
    client: aiohttp.ClientSession

    async def get(self, url: str) -> tuple[int, bytes, dict[str, str], float]:
        started = time.monotonic()
        async with self.client.get(url) as r:
            body = await r.read()
            return r.status, body, dict(r.headers), time.monotonic() - started

    async def newest_part(self) -> tuple[int, int]:
        """(MSN, part index) of the newest part, asked of the origin itself (a cached
        playlist may be a second old)."""
        status, body, _, _ = await self.get(self.origin + "live_hi.m3u8")
        assert status == 200
        return last_part(body.decode())

    async def fresh_part(self) -> tuple[int, int]:
        """(MSN, part index) of a part that has just arrived: the origin's answer to a
        blocking request for the part after the newest."""
        msn, index = await self.newest_part()
        status, body, _, _ = await self.get(
            self.origin + f"live_hi.m3u8?_HLS_msn={msn}&_HLS_part={index + 1}")
        assert status == 200
        return last_part(body.decode())

    async def origin_requests(self, uri: str, answered: int) -> int:
        """How many of the `answered` requests for `uri` nginx sent to the origin. nginx
        logs a request after its answer went out: wait until all of them are logged."""
        def lines() -> list[Logged]:
            return [e for e in self.cache.logged() if e.uri == "/" + uri]

        await until(lambda: len(lines()) >= answered, timeout=5)
        assert len(lines()) == answered
        return sum(e.upstream for e in lines())


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, NginxCache]]:
    """hlsd (one live fMP4 rung, 1 s segments, 0.5 s parts, LL-HLS) behind nginx."""
    if nginx_binary() is None:
        pytest.skip("nginx is not installed (apt-get install nginx-light)")
    tmp = tmp_path_factory.mktemp("nginx")
    www, log = tmp / "www", tmp / "hlsd.log"
    config = write_config(
        tmp / "ll.yaml", temp_dir=str(tmp / "work"), input_location="lavfi", live=True,
        segment_length=1, index_segment_count=6, segment_format="fmp4",
        low_latency={"part_length": PART}, encoding_profile=["hi"], transfer_profile="www",
        http={"listen": "127.0.0.1", "port": 0},
        www={"transfer_type": "copy", "directory": str(www)},
        hi={"ffmpeg_command": f"{SOURCE} {FAST_X264} -b:v 200k -f mpegts -"})
    with running(config, log) as proc:
        url = wait_for(lambda: origin_url(log), 30, "the http origin")
        wait_for(lambda: "#EXTINF" in (read(www / "live_hi.m3u8") or ""), 30, "a segment")
        cache = NginxCache(int(url.rstrip("/").rsplit(":", 1)[1]), tmp / "nginx")
        cache.start()
        try:
            yield url, cache
        finally:
            cache.stop()
        assert "[emerg]" not in cache.errors() and "[crit]" not in cache.errors()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0


@pytest.fixture
async def tier(stack: tuple[str, NginxCache]) -> AsyncIterator[Tier]:
    async with aiohttp.ClientSession() as client:
        yield Tier(stack[0], stack[1], client)


async def test_blocking_reload_through_nginx(tier: Tier) -> None:
    """1. a part (M, N) has just arrived; ask nginx for (M, N+1)
    2. the answer lists exactly one part more, the one asked for (nginx passed it on as
       the origin answered, when that part arrived), within that part's duration (plus
       LOADED); it came from the origin (MISS); the origin's Cache-Control passes through
    3. the same request again is answered from the cache (HIT), the same bytes, at once"""
    msn, index = await tier.fresh_part()
    uri = f"live_hi.m3u8?_HLS_msn={msn}&_HLS_part={index + 1}"
    status, body, headers, waited = await tier.get(tier.cache.url + uri)
    assert status == 200, body
    duration = one_part_more((msn, index), body.decode())
    assert headers["X-Cache-Status"] == "MISS"
    assert headers["Cache-Control"].startswith("max-age=")
    assert waited <= duration + LOADED, (waited, duration)
    again = await tier.get(tier.cache.url + uri)
    assert again[0] == 200 and again[1] == body and again[2]["X-Cache-Status"] == "HIT"
    assert await tier.origin_requests(uri, answered=2) == 1


async def test_concurrent_blocking_requests_collapse_into_one(tier: Tier) -> None:
    """1. a part (M, N) has just arrived; 20 players ask nginx at once for (M, N+2):
       the part after next, or past the segment's last part the next segment's first —
       at least one whole part away, so every request blocks
    2. every one is answered 200 with the same playlist, which lists the part asked for
       as its newest, and none before the parts since (M, N) were produced (their
       durations: the encoder runs in real time), less LOADED
    3. nginx's log: the origin saw that request once; the others waited for its answer"""
    msn, index = await tier.fresh_part()
    uri = f"live_hi.m3u8?_HLS_msn={msn}&_HLS_part={index + 2}"
    answers = await asyncio.gather(*(tier.get(tier.cache.url + uri)
                                     for _ in range(CONCURRENT)))
    assert {status for status, *_ in answers} == {200}
    assert len({body for _, body, _, _ in answers}) == 1
    listed = parts(answers[0][1].decode())
    ids = [p[:2] for p in listed]
    asked = (msn, index + 2) if (msn, index + 2) in ids else (msn + 1, 0)
    assert ids[-1] == asked, (msn, index, ids[-4:])
    statuses = sorted(headers["X-Cache-Status"] for _, _, headers, _ in answers)
    waits = sorted(round(w, 2) for *_, w in answers)
    print(f"\n{CONCURRENT} concurrent blocking requests: cache {statuses}, waits {waits} s")
    produced = sum(duration for *_, duration in listed[ids.index((msn, index)) + 1:])
    assert min(waits) >= produced - LOADED, (waits, produced)  # every one blocked
    assert await tier.origin_requests(uri, answered=CONCURRENT) == 1


async def test_parts_are_served_from_the_cache(tier: Tier) -> None:
    """A part fetched through nginx once is a HIT the second time, byte for byte, and
    nginx asked the origin for it once."""
    msn, _ = await tier.newest_part()
    status, body, _, _ = await tier.get(tier.cache.url
                                        + f"live_hi.m3u8?_HLS_msn={msn}&_HLS_part=0")
    assert status == 200
    uri = tags(body.decode(), "#EXT-X-PART")[-1]["URI"]
    first = await tier.get(tier.cache.url + uri)
    second = await tier.get(tier.cache.url + uri)
    assert first[0] == second[0] == 200
    assert first[1] == second[1] and first[1][4:8] in (b"moof", b"styp")
    assert second[2]["X-Cache-Status"] == "HIT"
    assert "immutable" in second[2]["Cache-Control"]
    assert await tier.origin_requests(uri, answered=2) == 1


async def test_errors_are_not_cached(tier: Tier) -> None:
    """A request refused by the origin (400: too far ahead) goes to the origin each time."""
    msn, _ = await tier.newest_part()
    uri = f"live_hi.m3u8?_HLS_msn={msn + 50}"
    for _ in range(2):
        status, _, headers, _ = await tier.get(tier.cache.url + uri)
        assert status == 400 and headers.get("X-Cache-Status") != "HIT"
    assert await tier.origin_requests(uri, answered=2) == 2
