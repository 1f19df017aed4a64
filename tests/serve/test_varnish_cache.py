"""The shield: etc/varnish/hlsd.vcl run by a real varnishd in front of a real daemon (LL-HLS
with its admin listener set, and a regular ladder). Identical blocking reloads reach the
origin once and are all answered the moment its answer arrives; parts and segments are
served from the cache; errors are not kept; a blocking answer is never served stale; the
daemon's internals stay off the viewers' side."""

from __future__ import annotations

import asyncio
import gzip
import json
import signal
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from tests.daemon_util import FAST_X264, read, running, until, wait_for, write_config
from tests.fixtures.varnish_cache import VarnishCache, varnish_binary
from tests.serve.test_lowlatency import last_part, tags
from tests.serve.test_playback import segment_count

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

PART = 0.5
SOURCE = "ffmpeg -re -f lavfi -i testsrc2=size=192x108:rate=25"
CONCURRENT = 50
TOGETHER = 0.050  # seconds: every collapsed request answered within this of the first


def listening(log: Path) -> dict[str, str] | None:
    """The daemon's `http origin listening` line: its viewers' URL and admin URL."""
    for line in (read(log) or "").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("event") == "http origin listening":
            return {"url": entry["url"], "admin": entry.get("admin")}
    return None


@dataclass
class Shield:
    origin: str  # hlsd's viewers' port, direct
    admin: str | None  # hlsd's admin listener
    cache: VarnishCache
    client: aiohttp.ClientSession

    async def get(self, url: str, gzipped: bool = True
                  ) -> tuple[int, bytes, dict[str, str], float]:
        """Status, body as sent (not decompressed), headers, seconds to the whole body."""
        started = time.monotonic()
        headers = {"Accept-Encoding": "gzip" if gzipped else "identity"}
        async with self.client.get(url, headers=headers, auto_decompress=False) as r:
            body = await r.read()
            return r.status, body, dict(r.headers), time.monotonic() - started

    async def newest_part(self, rung: str = "hi") -> tuple[int, int]:
        """(MSN, part index) of the newest part, asked of the origin itself."""
        status, body, _, _ = await self.get(self.origin + f"live_{rung}.m3u8", gzipped=False)
        assert status == 200
        return last_part(body.decode())

    async def origin_requests(self, uri: str, at_least: int = 1) -> int:
        """How many requests for `uri` (path and query) Varnish sent to the origin; a
        backend request is logged once its answer is complete."""
        def count() -> int:
            return sum(1 for r in self.cache.origin_requests() if r.uri == "/" + uri)

        await until(lambda: count() >= at_least, timeout=5)
        await asyncio.sleep(0.3)  # any straggler
        return count()


def shielded(config: Path, log: Path, workdir: Path, www: Path
             ) -> Iterator[tuple[dict[str, str], VarnishCache]]:
    with running(config, log) as proc:
        urls = wait_for(lambda: listening(log), 30, "the http origin")
        wait_for(lambda: (www / "live.m3u8").exists() and "#EXTINF" in (
            read(www / "live_hi.m3u8") or ""), 30, "a segment and the master")
        cache = VarnishCache(int(urls["url"].rstrip("/").rsplit(":", 1)[1]), workdir)
        cache.start()
        try:
            yield urls, cache
        finally:
            cache.stop()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0


@pytest.fixture(scope="module")
def ll_stack(tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[tuple[dict[str, str], VarnishCache]]:
    """hlsd (one live fMP4 rung, 1 s segments, 0.5 s parts, LL-HLS; the admin routes on
    their own listener) behind varnishd."""
    if varnish_binary() is None:
        pytest.skip("varnish is not installed (apt-get install varnish)")
    tmp = tmp_path_factory.mktemp("varnish")
    config = write_config(
        tmp / "ll.yaml", temp_dir=str(tmp / "work"), input_location="lavfi", live=True,
        segment_length=1, index_segment_count=6, segment_format="fmp4",
        low_latency={"part_length": PART}, encoding_profile=["hi"], transfer_profile="www",
        http={"listen": "127.0.0.1", "port": 0, "admin_listen": "127.0.0.1", "admin_port": 0},
        www={"transfer_type": "copy", "directory": str(tmp / "www")},
        hi={"ffmpeg_command": f"{SOURCE} {FAST_X264} -b:v 200k -f mpegts -"})
    yield from shielded(config, tmp / "hlsd.log", tmp / "varnish", tmp / "www")


@pytest.fixture
async def shield(ll_stack: tuple[dict[str, str], VarnishCache]) -> AsyncIterator[Shield]:
    urls, cache = ll_stack
    async with aiohttp.ClientSession() as client:
        yield Shield(urls["url"], urls["admin"], cache, client)


async def test_blocking_reload_through_varnish(shield: Shield) -> None:
    """1. the newest part is (M, N); ask Varnish for (M, N+1)
    2. the answer comes when that part exists, within about a part duration, lists it, and
       came from the origin (MISS) with its max-age (six target durations)
    3. the same request again: a HIT, the same bytes, at once; the origin saw it once"""
    msn, index = await shield.newest_part()
    uri = f"live_hi.m3u8?_HLS_msn={msn}&_HLS_part={index + 1}"
    status, body, headers, waited = await shield.get(shield.cache.url + uri)
    assert status == 200, body
    assert last_part(gzip.decompress(body).decode()) > (msn, index)
    assert headers["X-Cache"] == "MISS" and headers["Cache-Control"] == "max-age=6"
    assert headers["Vary"] == "Accept-Encoding" and headers["Content-Encoding"] == "gzip"
    assert waited <= PART + 1.0
    again = await shield.get(shield.cache.url + uri)
    assert again[0] == 200 and again[1] == body and again[2]["X-Cache"] == "HIT"
    assert again[3] < 0.1
    assert await shield.origin_requests(uri) == 1


async def test_concurrent_blocking_requests_reach_the_origin_once_and_answer_together(
        shield: Shield) -> None:
    """1. 50 players ask Varnish at once for a part two parts ahead (every request blocks)
    2. every one is answered 200 with the same playlist, which lists that part
    3. the origin saw that request once (one MISS, the others waited for it: HIT)
    4. all 50 were answered within 50 ms of the first: Varnish wakes its waiting list the
       moment the origin's answer arrives (nginx polls its cache lock every 500 ms)"""
    msn, index = await shield.newest_part()
    uri = f"live_hi.m3u8?_HLS_msn={msn}&_HLS_part={index + 2}"
    ends: list[float] = []

    async def player() -> tuple[int, bytes, dict[str, str], float]:
        answer = await shield.get(shield.cache.url + uri)
        ends.append(time.monotonic())
        return answer

    answers = await asyncio.gather(*(player() for _ in range(CONCURRENT)))
    assert {status for status, *_ in answers} == {200}
    assert len({body for _, body, _, _ in answers}) == 1
    assert last_part(gzip.decompress(answers[0][1]).decode()) >= (msn, index + 1)
    caches = sorted(headers["X-Cache"] for _, _, headers, _ in answers)
    spread = max(ends) - min(ends)
    print(f"\n{CONCURRENT} concurrent blocking requests: {caches.count('MISS')} MISS, "
          f"{caches.count('HIT')} HIT, answered within {spread * 1e3:.1f} ms of each other")
    assert caches == ["HIT"] * (CONCURRENT - 1) + ["MISS"]
    assert spread <= TOGETHER
    assert await shield.origin_requests(uri) == 1


async def test_the_hinted_part_collapses_and_parts_are_hits(shield: Shield) -> None:
    """1. 20 players ask Varnish for the part the preload hint names (it does not exist
       yet: the origin holds the request until it does)
    2. all get the part's bytes; the origin saw one request for it
    3. the part again: a HIT, byte for byte, immutable for a year"""
    status, body, _, _ = await shield.get(shield.origin + "live_hi.m3u8", gzipped=False)
    assert status == 200
    hinted = tags(body.decode(), "#EXT-X-PRELOAD-HINT")[-1]["URI"]
    answers = await asyncio.gather(*(shield.get(shield.cache.url + hinted)
                                     for _ in range(20)))
    assert {status for status, *_ in answers} == {200}
    assert len({body for _, body, _, _ in answers}) == 1
    assert answers[0][1][4:8] in (b"moof", b"styp")
    again = await shield.get(shield.cache.url + hinted)
    assert again[1] == answers[0][1] and again[2]["X-Cache"] == "HIT"
    assert again[2]["Cache-Control"] == "max-age=31536000, immutable"
    # a query (a player's cache buster) does not split the cache: parts are kept by name
    assert (await shield.get(shield.cache.url + hinted + "?x=1"))[2]["X-Cache"] == "HIT"
    assert await shield.origin_requests(hinted) == 1


async def test_errors_are_not_cached(shield: Shield) -> None:
    """A request refused by the origin (400: too far ahead) goes to the origin each time,
    and says no-store; so does a 404."""
    msn, _ = await shield.newest_part()
    for uri in (f"live_hi.m3u8?_HLS_msn={msn + 50}", "live_hi-99999.0.m4s"):
        for _ in range(2):
            status, _, headers, _ = await shield.get(shield.cache.url + uri)
            assert status in (400, 404) and headers["X-Cache"] != "HIT"
            assert headers["Cache-Control"] == "no-store"
        assert await shield.origin_requests(uri, at_least=2) == 2


async def test_a_blocking_answer_is_never_served_stale(shield: Shield) -> None:
    """1. a blocking answer (max-age=6) and the plain playlist (max-age=1) are cached
    2. 1.2 s later the plain playlist may be served stale (HIT-STALE: its grace) while one
       request refreshes it
    3. 6.5 s later the blocking answer has expired: fetched again (MISS), never stale"""
    msn, index = await shield.newest_part()
    blocking = f"live_hi.m3u8?_HLS_msn={msn}&_HLS_part={index}"
    assert (await shield.get(shield.cache.url + blocking))[0] == 200
    assert (await shield.get(shield.cache.url + "live_hi.m3u8"))[0] == 200
    await asyncio.sleep(1.2)
    plain = await shield.get(shield.cache.url + "live_hi.m3u8")
    assert plain[2]["X-Cache"] in ("HIT-STALE", "MISS")  # MISS: a player refreshed it first
    await asyncio.sleep(5.3)
    again = await shield.get(shield.cache.url + blocking)
    assert again[0] == 200 and again[2]["X-Cache"] == "MISS"
    assert await shield.origin_requests(blocking, at_least=2) == 2


async def test_one_object_for_gzip_and_identity_clients(shield: Shield) -> None:
    """The origin's `Vary: Accept-Encoding` does not split the cache: Varnish keeps the
    gzip answer and unzips it for a client that does not take gzip (one origin request);
    both answers say Vary to any cache downstream."""
    msn, index = await shield.newest_part()
    uri = f"live_hi.m3u8?_HLS_msn={msn}&_HLS_part={index}"
    zipped = await shield.get(shield.cache.url + uri)
    plain = await shield.get(shield.cache.url + uri, gzipped=False)
    assert plain[2]["X-Cache"] == "HIT" and "Content-Encoding" not in plain[2]
    assert gzip.decompress(zipped[1]) == plain[1]
    assert zipped[2]["Vary"] == plain[2]["Vary"] == "Accept-Encoding"
    assert await shield.origin_requests(uri) == 1


async def test_the_daemons_internals_stay_off_the_viewers_side(shield: Shield) -> None:
    """With http.admin_port set, the real daemon answers /metrics, /info.json and /healthz
    on its admin listener only (404 on the viewers' port), and the VCL refuses them too;
    the player page and its figures (/stream.json) pass through the shield."""
    assert shield.admin is not None and shield.admin != shield.origin
    for route in ("metrics", "info.json", "healthz"):
        assert (await shield.get(shield.admin + route))[0] == 200, route
        assert (await shield.get(shield.origin + route))[0] == 404, route
        status, _, headers, _ = await shield.get(shield.cache.url + route)
        assert status == 404 and headers["X-Cache"] == "SYNTH", route
    status, body, headers, _ = await shield.get(shield.cache.url + "stream.json")
    assert status == 200 and headers["Cache-Control"] == "max-age=1"
    figures = json.loads(body)
    assert figures["low_latency"] is True and "destinations" not in figures
    assert (await shield.get(shield.cache.url))[0] == 200


# -- a regular (non-LL) ladder --------------------------------------------------------------
@pytest.fixture(scope="module")
def plain_stack(tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[tuple[dict[str, str], VarnishCache]]:
    """hlsd (two live MPEG-TS rungs, 1 s segments, no LL-HLS) behind varnishd."""
    if varnish_binary() is None:
        pytest.skip("varnish is not installed (apt-get install varnish)")
    tmp = tmp_path_factory.mktemp("varnish-plain")
    config = write_config(
        tmp / "plain.yaml", temp_dir=str(tmp / "work"), input_location="lavfi", live=True,
        segment_length=1, index_segment_count=6, encoding_profile=["hi", "lo"],
        transfer_profile="www", http={"listen": "127.0.0.1", "port": 0},
        www={"transfer_type": "copy", "directory": str(tmp / "www")},
        hi={"ffmpeg_command": f"{SOURCE} {FAST_X264} -b:v 200k -f mpegts -"},
        lo={"ffmpeg_command": f"{SOURCE} -s 128x72 {FAST_X264} -b:v 80k -f mpegts -"})
    yield from shielded(config, tmp / "hlsd.log", tmp / "varnish", tmp / "www")


async def test_a_regular_ladder_through_varnish(
        plain_stack: tuple[dict[str, str], VarnishCache]) -> None:
    """1. the master and a variant playlist through Varnish: from the origin once, then
       HITs for their second (max-age=1)
    2. a segment the variant lists: MISS, then HIT byte for byte, immutable
    3. the origin saw each once"""
    urls, cache = plain_stack
    async with aiohttp.ClientSession() as client:
        shield = Shield(urls["url"], None, cache, client)
        for playlist in ("live.m3u8", "live_lo.m3u8"):
            first = await shield.get(cache.url + playlist)
            second = await shield.get(cache.url + playlist)
            assert first[0] == second[0] == 200, playlist
            assert second[2]["X-Cache"] in ("HIT", "MISS")  # MISS only across a second
            assert first[2]["Cache-Control"] == "max-age=1"
        status, body, _, _ = await shield.get(cache.url + "live_lo.m3u8", gzipped=False)
        assert status == 200 and segment_count(body.decode()) >= 1
        segment = [line for line in body.decode().splitlines() if line.endswith(".ts")][-1]
        first = await shield.get(cache.url + segment)
        second = await shield.get(cache.url + segment)
        assert first[0] == 200 and first[1][:1] == b"\x47" and first[1] == second[1]
        assert second[2]["X-Cache"] == "HIT"
        assert second[2]["Cache-Control"] == "max-age=31536000, immutable"
        assert await shield.origin_requests(segment) == 1
        assert await shield.origin_requests("live.m3u8") in (1, 2)
