"""LL-HLS from the built-in origin, against the real daemon with a real HTTP client:
parts, blocking playlist reload, preload hints, delta updates, rendition reports."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from tests.daemon_util import (
    FAST_X264,
    descendants,
    process_name,
    read,
    running,
    wait_for,
    write_config,
)
from tests.hlscheck import parse_attributes
from tests.serve.test_playback import origin_url

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

PART = 0.5
# What a loaded 2-core machine may add to an answer's time (the encoder's output, the
# segmenter, the daemon's and the client's event loops): said here, not hidden in a bound.
LOADED = 0.25
SOURCE = "ffmpeg -re -f lavfi -i testsrc2=size=192x108:rate=25"


@dataclass
class Live:
    url: str
    www: Path
    pid: int
    client: aiohttp.ClientSession

    async def get(self, path: str, **query: str) -> tuple[int, str, float]:
        started = time.monotonic()
        async with self.client.get(self.url + path, params=query) as r:
            body = (await r.read()).decode("latin-1")  # parts are bytes, playlists ASCII
            return r.status, body, time.monotonic() - started

    async def playlist(self, rung: str = "hi", **query: str) -> str:
        status, body, _ = await self.get(f"live_{rung}.m3u8", **query)
        assert status == 200, body
        return body


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, int]]:
    """A 2-rung live fMP4 ladder with 1 s segments, 0.5 s parts, a 10-segment window."""
    tmp = tmp_path_factory.mktemp("ll")
    www = tmp / "www"
    config = write_config(
        tmp / "ll.yaml", temp_dir=str(tmp / "work"), input_location="lavfi", live=True,
        segment_length=1, index_segment_count=10, segment_format="fmp4",
        low_latency={"part_length": PART}, encoding_profile=["hi", "lo"],
        transfer_profile="www", http={"listen": "127.0.0.1", "port": 0},
        www={"transfer_type": "copy", "directory": str(www)},
        hi={"ffmpeg_command": f"{SOURCE} {FAST_X264} -b:v 300k -f mpegts -"},
        lo={"ffmpeg_command": f"{SOURCE} -s 128x72 {FAST_X264} -b:v 100k -f mpegts -"})
    log = tmp / "hlsd.log"
    with running(config, log) as proc:
        url = wait_for(lambda: origin_url(log), 30, "the http origin")
        wait_for(lambda: "#EXTINF" in (read(www / "live_hi.m3u8") or ""), 30, "a segment")
        yield url, www, proc.pid
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0


@pytest.fixture
async def live(daemon: tuple[str, Path, int]) -> AsyncIterator[Live]:
    async with aiohttp.ClientSession() as client:
        yield Live(*daemon, client)


def tags(text: str, name: str) -> list[dict[str, str]]:
    return [parse_attributes(line.partition(":")[2]) for line in text.splitlines()
            if line.startswith(name + ":")]


def parts(text: str) -> list[tuple[int, int, float]]:
    """(MSN, index, duration) of every EXT-X-PART, from its URI (NAME-<msn>.<index>.m4s)."""
    listed = []
    for part in tags(text, "#EXT-X-PART"):
        msn, index = part["URI"].rsplit("-", 1)[1].split(".")[:2]
        listed.append((int(msn), int(index), float(part["DURATION"])))
    return listed


def last_part(text: str) -> tuple[int, int]:
    """(MSN, index) of the newest EXT-X-PART."""
    msn, index, _ = parts(text)[-1]
    return msn, index


def one_part_more(before: tuple[int, int], text: str) -> float:
    """The answer to a blocking request for the part after `before` lists exactly one
    part more (the one asked for: past a segment's last part, the next segment's first):
    it went out as that part arrived, not later with more. Returns that part's duration."""
    listed = parts(text)
    assert [p[:2] for p in listed[-2:-1]] == [before], (before, listed[-3:])
    return listed[-1][2]


async def test_playlist_carries_the_ll_tags(live: Live) -> None:
    text = await live.playlist()
    control = tags(text, "#EXT-X-SERVER-CONTROL")[0]
    target = int(text.split("#EXT-X-TARGETDURATION:")[1].split()[0])
    part_target = float(tags(text, "#EXT-X-PART-INF")[0]["PART-TARGET"])
    assert control["CAN-BLOCK-RELOAD"] == "YES" and part_target == PART
    assert float(control["PART-HOLD-BACK"]) >= 3 * part_target
    assert float(control["HOLD-BACK"]) >= 3 * target
    assert all(float(p["DURATION"]) <= part_target + 1e-6 for p in tags(text, "#EXT-X-PART"))
    assert tags(text, "#EXT-X-PRELOAD-HINT")[0]["TYPE"] == "PART"
    assert "#EXT-X-VERSION:9" in text
    # every part and segment named is there, in full, right now
    for uri in [p["URI"] for p in tags(text, "#EXT-X-PART")][-4:]:
        status, body, _ = await live.get(uri)
        assert status == 200 and body
    # the regular destination gets the regular playlist, without LL tags
    regular = read(live.www / "live_hi.m3u8") or ""
    assert "#EXTINF" in regular and "#EXT-X-PART" not in regular
    assert "#EXT-X-SERVER-CONTROL" not in regular


async def test_blocking_reload_returns_as_the_next_part_arrives(live: Live) -> None:
    """1. the newest part is (M, N); ask for (M, N+1) (past a segment's last part: the
       next segment's first)
    2. the answer lists exactly one part more, the one asked for: it was answered as
       that part arrived (an origin waking only at whole segments, or now and then,
       lists more, or answers later)
    3. again for the part after it, eight times in a row: each request is sent as the
       part before arrives, so it waits for one part to be produced — at most that
       part's duration (the encoder runs in real time), plus LOADED"""
    before = last_part(await live.playlist())
    waits = []
    for _ in range(8):
        msn, index = before
        status, text, waited = await live.get("live_hi.m3u8", _HLS_msn=str(msn),
                                              _HLS_part=str(index + 1))
        assert status == 200, text
        duration = one_part_more(before, text)
        waits.append((round(waited, 3), duration))
        before = last_part(text)
    print(f"blocking reload (wait, part duration) in s: {waits}")
    assert all(waited <= duration + LOADED for waited, duration in waits), waits


async def test_requests_too_far_ahead_are_refused(live: Live) -> None:
    msn, _ = last_part(await live.playlist())
    status, _, waited = await live.get("live_hi.m3u8", _HLS_msn=str(msn + 3))
    assert status == 400 and waited < 1.0
    assert (await live.get("live_hi.m3u8", _HLS_part="1"))[0] == 400
    assert (await live.get("live_hi.m3u8", _HLS_msn="x"))[0] == 400


async def test_preload_hint_request_waits_for_the_part(live: Live) -> None:
    text = await live.playlist()
    hint = tags(text, "#EXT-X-PRELOAD-HINT")[0]["URI"]
    async with live.client.get(live.url + hint) as r:
        assert r.status == 200
        body = await r.read()
        assert r.headers["Content-Type"] == "video/iso.segment"
        assert "immutable" in r.headers["Cache-Control"]
    assert body[4:8] in (b"moof", b"styp")
    msn, index = (int(x) for x in hint.rsplit("-", 1)[1].split(".")[:2])
    listed = await live.playlist(_HLS_msn=str(msn), _HLS_part=str(index))
    assert f'URI="{hint}"' in listed


async def test_delta_update_equals_the_full_playlists_tail(live: Live) -> None:
    """With a window longer than six target durations, _HLS_skip=YES replaces the oldest
    segments by EXT-X-SKIP, and what follows is the full playlist's tail line for line."""
    for _ in range(60):
        full = await live.playlist()
        if tags(full, "#EXT-X-SERVER-CONTROL")[0].get("CAN-SKIP-UNTIL"):
            break
        await asyncio.sleep(0.5)
    delta = await live.playlist(_HLS_skip="YES")
    full = await live.playlist()
    skipped = int(tags(delta, "#EXT-X-SKIP")[0]["SKIPPED-SEGMENTS"])
    first = int(delta.split("#EXT-X-MEDIA-SEQUENCE:")[1].split()[0])
    assert skipped > 0

    def segments(text: str) -> list[tuple[str, str]]:
        lines = text.splitlines()
        return [(lines[i + 1], line) for i, line in enumerate(lines)
                if line.startswith("#EXTINF")]

    kept, listed = segments(delta), segments(full)
    start = first + skipped - int(full.split("#EXT-X-MEDIA-SEQUENCE:")[1].split()[0])
    # the same segments with the same durations (the full one may have grown since)
    assert kept and listed[start:start + len(kept)] == kept


async def test_rendition_reports_agree_with_the_other_rungs(live: Live) -> None:
    hi = await live.playlist("hi")
    msn, _ = last_part(hi)
    report = next(r for r in tags(hi, "#EXT-X-RENDITION-REPORT") if r["URI"] == "live_lo.m3u8")
    lo = await live.playlist("lo", _HLS_msn=report["LAST-MSN"], _HLS_part=report["LAST-PART"])
    assert f"-{int(report['LAST-MSN']):05d}.{report['LAST-PART']}.m4s" in lo
    assert abs(int(report["LAST-MSN"]) - msn) <= 1


async def test_blocking_reload_gives_up_with_503_when_nothing_comes(live: Live) -> None:
    """The encoder of `lo` is stopped (SIGSTOP): a request for its next segment is
    answered 503 after three target durations, never left hanging."""
    encoders = [p for p in descendants(live.pid) if process_name(p) == "ffmpeg"]
    lo = await live.playlist("lo")
    msn, _ = last_part(lo)
    stopped = [p for p in encoders if "128x72" in Path(f"/proc/{p}/cmdline").read_text()]
    assert stopped
    for pid in stopped:
        os.kill(pid, signal.SIGSTOP)
    try:
        status, _, waited = await live.get("live_lo.m3u8", _HLS_msn=str(msn + 2))
    finally:
        for pid in stopped:
            os.kill(pid, signal.SIGCONT)
    assert status == 503 and 2.5 <= waited <= 10, (status, waited)
