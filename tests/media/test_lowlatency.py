"""The LL-HLS playlist model: tags, part window, pending parts, delta updates."""

from __future__ import annotations

from datetime import UTC, datetime

from hlsd.media.lowlatency import LowLatencyView, Part, Pending, Report
from hlsd.media.playlist import Entry, MediaPlaylist
from tests.hlscheck import parse_attributes

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def parts(seq: int, n: int = 4) -> list[Part]:
    return [Part(seq, i, f"s-{seq:05d}.{i}.m4s", 0.5, i % 2 == 0) for i in range(n)]


def view(segments: int, pending: Pending | None = None) -> LowLatencyView:
    playlist = MediaPlaylist(target_duration=2, window=20)
    for seq in range(segments):
        playlist.add(Entry(seq, f"s-{seq:05d}.m4s", 2.0, False, T0, map_name="init.mp4"))
    return LowLatencyView(playlist, 0.5, {seq: parts(seq) for seq in range(segments)},
                          pending, "s-hint.m4s", [Report("other.m3u8", segments, 1)])


def test_tags_and_the_part_window() -> None:
    text = view(5, Pending(5, tuple(parts(5, 2)))).render()
    lines = text.splitlines()
    control = parse_attributes(next(x for x in lines if x.startswith("#EXT-X-SERVER-CONTROL"))
                               .partition(":")[2])
    assert control == {"CAN-BLOCK-RELOAD": "YES", "PART-HOLD-BACK": "1.500",
                       "HOLD-BACK": "6.000"}  # 10 s of window: no delta updates offered
    assert "#EXT-X-PART-INF:PART-TARGET=0.500" in lines
    # Parts listed for the newest 3 target durations (6 s): 1 s pending + 2.5 segments
    listed = {x.split('URI="')[1].split(".")[0] for x in lines if x.startswith("#EXT-X-PART:")}
    assert listed == {"s-00002", "s-00003", "s-00004", "s-00005"}
    assert lines[-2] == '#EXT-X-PRELOAD-HINT:TYPE=PART,URI="s-hint.m4s"'
    assert lines[-1] == '#EXT-X-RENDITION-REPORT:URI="other.m3u8",LAST-MSN=5,LAST-PART=1'
    assert text.count("#EXT-X-MAP") == 1


def test_last_is_the_newest_part_listed() -> None:
    assert view(3, Pending(3, tuple(parts(3, 2)))).last() == (3, 1)
    assert view(3).last() == (2, 3)


def test_delta_update_skips_what_is_older_than_can_skip_until() -> None:
    """20 s of window, 12 s CAN-SKIP-UNTIL: the 4 oldest segments are skipped, the MAP
    stated again before the first one kept."""
    full = view(10)
    assert full.can_skip_until == 12.0 and full.skippable() == 4
    delta = full.render(skip=True)
    assert "#EXT-X-SKIP:SKIPPED-SEGMENTS=4" in delta and "s-00003.m4s" not in delta
    assert delta.index("#EXT-X-MAP") < delta.index("s-00004.m4s")
    assert "#EXT-X-VERSION:9" in delta


def test_a_new_run_in_progress_starts_with_a_discontinuity_and_its_map() -> None:
    text = view(2, Pending(2, tuple(parts(2, 1)), discontinuity=True,
                           map_name="init-2.mp4")).render()
    tail = text[text.index("s-00001.m4s"):]
    assert tail.index("#EXT-X-DISCONTINUITY") < tail.index('#EXT-X-MAP:URI="init-2.mp4"') \
        < tail.index("s-00002.0.m4s")


def test_ad_marks_in_ll_hls_and_a_delta_keeps_the_skipped_dateranges() -> None:
    """A break on segment 1 (skipped by the delta) and its return on segment 6: the full
    playlist lists each with its segment; the delta keeps segment 1's DATERANGE (no
    CAN-SKIP-DATERANGES) but not its legacy CUE-OUT, which only means something in place."""
    out = '#EXT-X-DATERANGE:ID="ad",START-DATE="2026-11-27T12:00:00.000Z",PLANNED-DURATION=10.000'
    back = ('#EXT-X-DATERANGE:ID="ad",START-DATE="2026-11-27T12:00:00.000Z",'
            'END-DATE="2026-11-27T12:00:10.000Z",DURATION=10.000')
    marks = {1: (out, "#EXT-X-CUE-OUT:DURATION=10.000"), 6: (back, "#EXT-X-CUE-IN")}
    playlist = MediaPlaylist(target_duration=2, window=20)
    for seq in range(10):
        playlist.add(Entry(seq, f"s-{seq:05d}.m4s", 2.0, False, T0, map_name="init.mp4",
                           marks=marks.get(seq, ())))
    full = LowLatencyView(playlist, 0.5).render().splitlines()
    assert full[full.index(out) + 2].startswith("#EXT-X-PROGRAM-DATE-TIME")
    assert full.index(back) < full.index("s-00006.m4s") < full.index(back) + 5
    delta = LowLatencyView(playlist, 0.5).render(skip=True).splitlines()
    assert "#EXT-X-SKIP:SKIPPED-SEGMENTS=4" in delta
    assert delta[delta.index("#EXT-X-SKIP:SKIPPED-SEGMENTS=4") + 1] == out
    assert "#EXT-X-CUE-OUT:DURATION=10.000" not in delta and back in delta
