"""An operator's ad break end to end: `hlsd cue` → the running daemon's control socket (or
POST /cue on its admin listener) → #EXT-X-DATERANGE (and the legacy cue tags) on every
rung → hls.js sees the break."""

from __future__ import annotations

import json
import signal
import subprocess
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from hlsd.config import DEFAULT_HLS_JS
from hlsd.media import daterange, scte35
from hlsd.media.parse import parse_media
from tests.browser import browser_page, require_browser
from tests.daemon_util import FAST_X264, hlsd_argv, read, running, wait_for, write_config
from tests.hlscheck import parse_media_text
from tests.serve.test_playback import origin_url

pytestmark = pytest.mark.e2e

SOURCE = ("ffmpeg -re -f lavfi -i testsrc2=size=320x180:rate=25 "
          "-re -f lavfi -i sine=frequency=440:sample_rate=48000")
RUNGS = {"video": f"-s 320x180 {FAST_X264} -b:v 250k -c:a aac -b:a 48k",
         "sound": "-vn -c:a aac -b:a 48k"}
LENGTH = 2  # segment_length


def cue(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(hlsd_argv("cue", str(config), *args), capture_output=True,
                          text=True, timeout=60)


def ranges(text: str | None, ident: str) -> list[tuple[daterange.DateRange, datetime]]:
    """Each DATERANGE with `ident`, and the PROGRAM-DATE-TIME of the segment it comes with."""
    found, pending = [], []
    for line in (text or "").splitlines():
        if line.startswith("#EXT-X-DATERANGE:"):
            pending.append(daterange.parse(line))
        elif line.startswith("#EXT-X-PROGRAM-DATE-TIME:"):
            pdt = datetime.fromisoformat(line.split(":", 1)[1])
            found += [(r, pdt) for r in pending if r.id == ident]
            pending = []
    return found


def last_seq(text: str | None) -> int:
    return max((s.msn for s in parse_media_text(text).segments), default=-1) if text else -1


@pytest.mark.browser
async def test_hlsd_cue_opens_a_break_on_every_rung_and_hls_js_sees_it(tmp_path: Path) -> None:
    """1. `hlsd run`: a live ladder (320x180 video, audio-only; 2 s segments), ad_markers
       [daterange, cue], its HTTP origin on a free port
    2. `hlsd cue --duration 6 --id ad-1`: exit 0 printing the ID and START-DATE; the break
       opens on one of the next two segments (within 2 segment lengths)
    3. every rung lists DATERANGE ad-1 with the segment whose PDT is its START-DATE,
       PLANNED-DURATION 6, SCTE35-OUT a splice_insert out of network for 6 s, and
       #EXT-X-CUE-OUT; the same START-DATE on every rung
    4. the return: ad-1 again, on the first segment ≥ 6 s later, END-DATE = that
       segment's PDT, SCTE35-IN, #EXT-X-CUE-IN; never a DISCONTINUITY
    5. hls.js (player page) exposes ad-1 in level.details.dateRanges
    6. SIGTERM, then a restart: the republished playlists still carry ad-1
    7. with no daemon, `hlsd cue` exits 1 saying so"""
    require_browser()
    www, log = tmp_path / "www", tmp_path / "hlsd.log"
    config = write_config(
        tmp_path / "hlsd.yaml", temp_dir=str(tmp_path / "work"), input_location="lavfi",
        live=True, segment_length=LENGTH, index_segment_count=10, encoder_mode="shared",
        ad_markers=["daterange", "cue"], encoding_profile=list(RUNGS), transfer_profile="www",
        www={"transfer_type": "copy", "directory": str(www)},
        http={"listen": "127.0.0.1", "port": 0},
        **{name: {"ffmpeg_command": f"{SOURCE} {opts} -f mpegts -"}
           for name, opts in RUNGS.items()})
    playlists = {rung: www / f"live_{rung}.m3u8" for rung in RUNGS}
    with running(config, log) as proc:
        url = wait_for(lambda: origin_url(log), 20, "the http origin")
        wait_for(lambda: all(last_seq(read(p)) >= 1 for p in playlists.values()), 30,
                 "two segments per rung")
        before = max(last_seq(read(p)) for p in playlists.values())
        done = cue(config, "--duration", "6", "--id", "ad-1")
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("ID=ad-1 START-DATE=")
        start = datetime.fromisoformat(done.stdout.split("START-DATE=")[1].strip())

        def both(text: str | None) -> bool:
            return len(ranges(text, "ad-1")) == 2
        texts = {r: wait_for(lambda p=p: read(p) if both(read(p)) else None,
                             30, f"the break's return in {r}") for r, p in playlists.items()}
        for rung, text in texts.items():
            (out, out_pdt), (back, back_pdt) = ranges(text, "ad-1")
            assert out.start == out_pdt == start, rung
            assert out.planned_duration == 6.0 and out.scte35_out is not None
            section = scte35.parse(out.scte35_out)
            assert section.out and section.duration == 6.0
            assert back.start == start and back.end == back_pdt and back.scte35_in is not None
            assert not scte35.parse(back.scte35_in).out
            assert timedelta(seconds=5.95) <= back.end - start < timedelta(seconds=6 + LENGTH)
            assert back.duration == pytest.approx((back.end - start).total_seconds())
            lines = text.splitlines()
            assert "#EXT-X-CUE-OUT:DURATION=6.000" in lines and "#EXT-X-CUE-IN" in lines
            assert "#EXT-X-DISCONTINUITY" not in lines
            opened = next(e.seq for e in parse_media(text).entries
                          if e.program_date_time == start)
            assert before < opened <= before + 2, (before, opened)

        async with browser_page(serve_hlsjs_at=DEFAULT_HLS_JS) as b:
            await b.page.goto(url)
            await b.page.wait_for_function(
                "() => { const h = window.hlsd.hls; return h && h.levels.some(l => l.details"
                " && l.details.dateRanges && l.details.dateRanges['ad-1']); }",
                timeout=30_000)
            seen = await b.page.evaluate(
                "() => { const l = window.hlsd.hls.levels.find(l => l.details &&"
                " l.details.dateRanges['ad-1']); const r = l.details.dateRanges['ad-1'];"
                " return [r.startDate.toISOString(), r.plannedDuration]; }")
            assert datetime.fromisoformat(seen[0]) == start and seen[1] == 6
            assert b.errors == []
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    last = last_seq(read(playlists["video"]))
    with running(config, log):
        text = wait_for(lambda: (t := read(playlists["video"])) and last_seq(t) > last and t,
                        30, "a segment after the restart")
        assert len(ranges(text, "ad-1")) == 2
    refused = cue(config, "--duration", "6")
    assert refused.returncode == 1 and "no hlsd daemon runs" in refused.stderr


def test_ll_hls_playlists_carry_the_break(tmp_path: Path) -> None:
    """1. `hlsd run`: an LL-HLS ladder (fMP4, 0.5 s parts, 1 s segments) from its origin
    2. `hlsd cue --duration 2`: exit 0
    3. the origin's LL-HLS playlist of every rung lists the break's OUT before the segment
       whose PDT is its START-DATE, and its return; #EXT-X-PART lines alongside"""
    www, log = tmp_path / "www", tmp_path / "hlsd.log"
    config = write_config(
        tmp_path / "hlsd.yaml", temp_dir=str(tmp_path / "work"), input_location="lavfi",
        live=True, segment_length=1, index_segment_count=8, encoder_mode="shared",
        segment_format="fmp4", low_latency={"part_length": 0.5},
        encoding_profile=list(RUNGS), transfer_profile="www",
        www={"transfer_type": "copy", "directory": str(www)},
        http={"listen": "127.0.0.1", "port": 0},
        **{name: {"ffmpeg_command": f"{SOURCE} {opts} -f mpegts -"}
           for name, opts in RUNGS.items()})
    with running(config, log) as proc:
        url = wait_for(lambda: origin_url(log), 20, "the http origin")

        def live(rung: str) -> str | None:
            try:
                with urllib.request.urlopen(f"{url}live_{rung}.m3u8", timeout=5) as answer:
                    return str(answer.read().decode())
            except OSError:
                return None
        wait_for(lambda: all(last_seq(live(r)) >= 1 for r in RUNGS), 30, "segments")
        done = cue(config, "--duration", "2", "--id", "ll-1")
        assert done.returncode == 0, done.stderr
        start = datetime.fromisoformat(done.stdout.split("START-DATE=")[1].strip())
        for rung in RUNGS:
            text = wait_for(lambda r=rung: (t := live(r)) and len(ranges(t, "ll-1")) == 2
                            and t, 20, f"the break in {rung}'s LL-HLS playlist")
            (out, out_pdt), (back, _) = ranges(text, "ll-1")
            assert out.start == out_pdt == start and back.end is not None
            assert "#EXT-X-PART:" in text and "#EXT-X-DISCONTINUITY" not in text.splitlines()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0


def test_hlsd_cue_finds_the_daemon_after_a_reload_moved_temp_dir(tmp_path: Path) -> None:
    """1. `hlsd run`: a live one-rung ladder, temp_dir work1
    2. the config's temp_dir changed to work2, SIGHUP: the control socket appears there
    3. `hlsd cue` with the new config: exit 0, the break opens; no socket left in work1"""
    www, log = tmp_path / "www", tmp_path / "hlsd.log"
    settings = dict(
        input_location="lavfi", live=True, segment_length=1, index_segment_count=10,
        encoding_profile=["sound"], transfer_profile="www",
        www={"transfer_type": "copy", "directory": str(www)},
        sound={"ffmpeg_command": f"{SOURCE} {RUNGS['sound']} -f mpegts -"})
    config = write_config(tmp_path / "hlsd.yaml", temp_dir=str(tmp_path / "work1"), **settings)
    playlist = www / "live_sound.m3u8"
    with running(config, log) as proc:
        wait_for(lambda: last_seq(read(playlist)) >= 0, 30, "a first segment")
        write_config(config, temp_dir=str(tmp_path / "work2"), **settings)
        proc.send_signal(signal.SIGHUP)
        wait_for(lambda: (tmp_path / "work2" / "control.sock").exists(), 30,
                 "the control socket in the new temp_dir")
        done = cue(config, "--duration", "2", "--id", "after-reload")
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("ID=after-reload START-DATE=")
        assert not (tmp_path / "work1" / "control.sock").exists()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0


def admin_url(log: Path) -> str | None:
    """The admin listener's URL from the `http origin listening` log line."""
    for line in (read(log) or "").splitlines():
        if '"http origin listening"' in line:
            return str(json.loads(line)["admin"])
    return None


def post_cue(url: str, body: dict[str, object]) -> tuple[int, dict[str, str]]:
    request = urllib.request.Request(url + "cue", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as refused:
        return refused.code, {}


def test_post_cue_on_the_admin_listener_opens_a_break_on_every_rung(tmp_path: Path) -> None:
    """1. `hlsd run`: a live ladder (video, audio-only; 1 s segments), its origin on a free
       port and an admin listener on another
    2. POST /cue on the viewers' port: refused (404/405), no break
    3. POST /cue {"duration": 3, "id": "http-1"} on the admin listener: 200 with the ID
       and START-DATE once the break opened
    4. every rung lists DATERANGE http-1 on the segment whose PDT is that START-DATE, and
       its return 3 s later; the video rung's I-frame playlist lists them too"""
    www, log = tmp_path / "www", tmp_path / "hlsd.log"
    config = write_config(
        tmp_path / "hlsd.yaml", temp_dir=str(tmp_path / "work"), input_location="lavfi",
        live=True, segment_length=1, index_segment_count=10, encoder_mode="shared",
        encoding_profile=list(RUNGS), transfer_profile="www",
        www={"transfer_type": "copy", "directory": str(www)},
        http={"listen": "127.0.0.1", "port": 0, "admin_listen": "127.0.0.1",
              "admin_port": 0},
        **{name: {"ffmpeg_command": f"{SOURCE} {opts} -f mpegts -"}
           for name, opts in RUNGS.items()})
    playlists = {rung: www / f"live_{rung}.m3u8" for rung in RUNGS}
    with running(config, log) as proc:
        url = wait_for(lambda: origin_url(log), 20, "the http origin")
        admin = admin_url(log)
        assert admin is not None and admin != url
        wait_for(lambda: all(last_seq(read(p)) >= 0 for p in playlists.values()), 30,
                 "a segment per rung")
        assert post_cue(url, {"duration": 3, "id": "viewer"})[0] in (404, 405)
        status, answer = post_cue(admin, {"duration": 3, "id": "http-1"})
        assert status == 200 and answer["id"] == "http-1", answer
        start = datetime.fromisoformat(answer["start_date"])
        for rung, playlist in playlists.items():
            text = wait_for(lambda p=playlist: (t := read(p)) and len(ranges(t, "http-1")) == 2
                            and t, 20, f"the break and its return in {rung}")
            (out, out_pdt), (back, _) = ranges(text, "http-1")
            assert out.start == out_pdt == start and out.planned_duration == 3.0
            assert back.end is not None and back.end - start >= timedelta(seconds=2.95)
            assert not ranges(text, "viewer")
        iframes = wait_for(lambda: (t := read(www / "live_video_iframes.m3u8"))
                           and len(ranges(t, "http-1")) == 2 and t, 10, "the I-frame playlist")
        assert ranges(iframes, "http-1")[0][0].start == start
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
