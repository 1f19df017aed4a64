"""Time-shift from the built-in origin: a live ladder of 1 s segments with `dvr_window: 45`,
asked for past spans with `?start=`/`?end=` while it runs."""

from __future__ import annotations

import signal
import time
import urllib.request
from pathlib import Path

import pytest

from hlsd.media.parse import parse_media
from hlsd.media.playlist import MediaPlaylist
from tests.daemon_util import lavfi_command, probe_duration, read, running, wait_for, write_config
from tests.media.test_dvr import expand
from tests.serve.test_playback import origin_url

pytestmark = pytest.mark.e2e

DVR_WINDOW = 45
RUNGS = ("ep_a", "ep_b")


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, answer.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def playlist(url: str) -> MediaPlaylist:
    status, text = get(url)
    assert status == 200, (url, status, text)
    return parse_media(text)


def first_date(p: MediaPlaylist) -> float:
    date = p.entries[0].program_date_time
    assert date is not None
    return date.timestamp()


def test_past_spans_are_served_and_the_window_is_kept(tmp_path: Path) -> None:
    """1. A live ladder (2 rungs, 1 s segments, a live window of 6, dvr_window 45) runs
    until the origin holds 42 s of it. 2. `?start=now-40&end=now-20` is closed (ENDLIST),
    starts within a segment of its start, lasts 20 s ± 2, every segment is served and it
    decodes to its EXTINF sum. 3. `?start=now-30` is open and ends at the live edge.
    Its delta update (`_HLS_skip=YES`) skips all but the last 6 s: expanded, it is the full
    answer of the same moment. 4. A start older than the window is clamped to the oldest
    segment. 5. The master carries the span to its variants. 6. The plain live playlist is
    unchanged. 7. The first segment is deleted, but only once it is 45 s behind the live
    edge. 8. After a restart the window still reaches back before it (the index came back
    with the state), the gap marked by a discontinuity."""
    www = tmp_path / "www"
    config = write_config(
        tmp_path / "dvr.yaml", temp_dir=str(tmp_path / "work"), input_location="lavfi",
        live=True, segment_length=1, index_segment_count=6, dvr_window=DVR_WINDOW,
        encoding_profile=list(RUNGS), transfer_profile="www",
        www={"transfer_type": "copy", "directory": str(www)},
        http={"listen": "127.0.0.1", "port": 0},
        **{name: {"ffmpeg_command": lavfi_command(rate=25, extra="-g 25")}
           for name in RUNGS})
    log = tmp_path / "hlsd.log"
    with running(config, log) as proc:
        base = wait_for(lambda: origin_url(log), 30, "the origin")
        variant = f"{base}live_ep_a.m3u8"
        first = wait_for(lambda: get(f"{variant}?start=now-1000")[0] == 200 and playlist(
            f"{variant}?start=now-1000"), 30, "the first segments")
        oldest = first.entries[0]
        assert oldest.program_date_time is not None
        t_first = oldest.program_date_time.timestamp()
        wait_for(lambda: time.time() - t_first > 43, 60, "43 s of stream", interval=0.5)

        asked = time.time()
        closed = playlist(f"{variant}?start=now-40&end=now-20")
        answered = time.time()
        assert closed.ended
        assert asked - 40 - 1.5 <= first_date(closed) <= answered - 40 + 0.01
        total = sum(e.duration for e in closed.entries)
        assert abs(total - 20) <= 2, total
        for entry in closed.entries:
            assert (www / entry.name).is_file(), entry.name
            assert get(base + entry.name)[0] == 200
        decoded = probe_duration(f"{variant}?start=now-40&end=now-20")
        # the span moved on by the time ffprobe asked: compare with a sum it could see
        assert abs(decoded - total) <= 1.5, (decoded, total)

        asked = time.time()
        open_span = playlist(f"{variant}?start=now-30")
        live = playlist(variant)
        assert not open_span.ended
        assert asked - 30 - 1.5 <= first_date(open_span) <= time.time() - 30 + 0.01
        assert open_span.entries[-1].seq >= live.entries[-1].seq - 1

        def same_moment() -> tuple[str, str] | None:
            span = f"start={time.time() - 40:.3f}"
            full = get(f"{variant}?{span}")[1]
            delta = get(f"{variant}?_HLS_skip=YES&{span}")[1]
            return (full, delta) if get(f"{variant}?{span}")[1] == full else None

        full, delta = wait_for(same_moment, 10, "a full answer and a delta of one moment")
        skip = next(line for line in delta.splitlines() if line.startswith("#EXT-X-SKIP:"))
        skipped = int(skip.split("=")[1])
        whole, listed = parse_media(full), expand(delta, skipped)
        assert listed.entries == whole.entries[skipped:]
        assert listed.media_sequence == whole.media_sequence + skipped > whole.media_sequence
        tail = [e.duration for e in listed.entries]
        assert sum(tail[1:]) < 6 <= sum(tail), tail  # all but six target durations skipped

        clamped = playlist(f"{variant}?start=now-3600")
        assert clamped.entries[0].seq <= oldest.seq + 1, "clamped to the oldest kept"

        status, master = get(f"{base}live.m3u8?start=now-30")
        assert status == 200
        uris = [line for line in master.splitlines() if line and not line.startswith("#")]
        assert len(uris) == len(RUNGS) and all("?start=" in uri for uri in uris)
        assert all(playlist(base + uri).entries for uri in uris)

        plain = read(www / "live_ep_a.m3u8") or ""
        assert plain.count("#EXTINF") == 6 and "#EXT-X-START" not in plain
        assert get(f"{variant}?start=later")[0] == 400

        gone = wait_for(lambda: not (www / oldest.name).exists() and playlist(variant),
                        40, f"{oldest.name} deleted")
        edge = gone.entries[-1]
        assert edge.program_date_time is not None
        behind = edge.program_date_time.timestamp() + edge.duration - (t_first
                                                                         + oldest.duration)
        assert behind >= DVR_WINDOW, f"deleted when {behind:.1f} s behind the live edge"
        before = playlist(f"{variant}?start=now-3600")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    last = parse_media(read(www / "live_ep_a.m3u8") or "").entries[-1].seq  # at the stop
    log.write_text("")
    with running(config, log):
        base = wait_for(lambda: origin_url(log), 30, "the origin again")
        variant = f"{base}live_ep_a.m3u8"
        after = wait_for(lambda: get(f"{variant}?start=now-3600")[0] == 200 and (
            p := playlist(f"{variant}?start=now-3600")).entries[-1].seq > last and p,
            30, "a segment after the restart")
        # the index came back with the state: what was kept before is still listed
        assert after.entries[0].seq <= before.entries[0].seq + 5
        assert any(e.discontinuity for e in after.entries), "the restart's gap is marked"
