"""EXT-X-GAP in the pure models: gap entries in the media, LL-HLS and I-frame playlists and
their state, and hlsd.media.gaps deciding which numbers a rung could not produce."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from hlsd.media.gaps import LadderProgress, Missing
from hlsd.media.iframes import render_iframes
from hlsd.media.lowlatency import LowLatencyView, Part
from hlsd.media.parse import parse_media
from hlsd.media.playlist import VERSION, Entry, KeyTag, MediaPlaylist
from hlsd.media.retention import Retention
from tests.hlscheck import MediaPlaylistWatcher, parse_media_text

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def entry(seq: int, *, gap: bool = False, disc: bool = False, fmp4: bool = False,
          key: KeyTag | None = None, keyframes: int = 0) -> Entry:
    start = 900_000 + seq * 180_000
    frames = tuple((376 + i * 10_000, 4_000, start + i * 90_000) for i in range(keyframes))
    return Entry(seq, f"live_720p-{seq:05d}.{'m4s' if fmp4 else 'ts'}", 2.0, disc,
                 T0 + timedelta(seconds=2 * seq), map_name="init-a.mp4" if fmp4 else None,
                 key=key, pts=start, iframes=frames, psi=376, gap=gap)


def playlist(*entries: Entry, window: int = 10) -> MediaPlaylist:
    made = MediaPlaylist(target_duration=2, window=window, url_prefix="https://cdn/x/")
    for e in entries:
        made.add(e)
    return made


# -- playlists -----------------------------------------------------------------------------

def test_a_gap_is_listed_in_place_under_the_name_it_would_have_had() -> None:
    """1. segments 0, 1, gaps 2 and 3, segment 4
    2. each gap: #EXT-X-GAP before its EXTINF and URI, its PROGRAM-DATE-TIME kept, no
       discontinuity of its own; numbers stay contiguous (nothing emptied)
    3. EXT-X-VERSION stays 3 (RFC 8216bis §8 asks no more for EXT-X-GAP); a client's
       checker accepts it without the gap's URI existing"""
    made = playlist(entry(0), entry(1), entry(2, gap=True), entry(3, gap=True), entry(4))
    text = made.render()
    assert made.media_sequence == 0 and [e.seq for e in made.entries] == [0, 1, 2, 3, 4]
    assert made.version == VERSION and f"#EXT-X-VERSION:{VERSION}" in text
    block = text[text.index("live_720p-00001.ts") + len("live_720p-00001.ts\n"):]
    assert block.splitlines()[:4] == [
        "#EXT-X-PROGRAM-DATE-TIME:2026-11-27T12:00:04.000Z", "#EXT-X-GAP",
        "#EXTINF:2.000,", "https://cdn/x/live_720p-00002.ts"]
    assert text.count("#EXT-X-GAP") == 2 and "#EXT-X-DISCONTINUITY\n" not in text
    facts = parse_media_text(text)
    assert [s.gap for s in facts.segments] == [False, False, True, True, False]
    MediaPlaylistWatcher("gaps").check(text, lambda uri: "0002" not in uri and "0003" not in uri)


def test_model_text_model_and_state_keep_the_gap() -> None:
    made = playlist(entry(0), entry(1, gap=True), entry(2, disc=True))
    again = parse_media(made.render(), url_prefix="https://cdn/x/", window=10)
    assert [(e.seq, e.gap, e.discontinuity) for e in again.entries] == [
        (0, False, False), (1, True, False), (2, False, True)]
    restored = MediaPlaylist.from_dict(json.loads(json.dumps(made.to_dict())))
    assert restored.entries == made.entries and restored.render() == made.render()
    # A state written before gaps existed reads as no gap.
    old = made.to_dict()
    for e in old["entries"]:
        del e["gap"]
    assert not any(e.gap for e in MediaPlaylist.from_dict(old).entries)


def test_gaps_have_no_format_map_or_key() -> None:
    """fMP4: a gap neither empties the playlist (it is no change of format) nor repeats
    EXT-X-MAP; encrypted: a gap takes no EXT-X-KEY (not even METHOD=NONE)."""
    fmp4 = playlist(entry(0, fmp4=True), entry(1, gap=True), entry(2, fmp4=True))
    text = fmp4.render()
    assert [e.seq for e in fmp4.entries] == [0, 1, 2] and text.count("#EXT-X-MAP") == 1
    assert "#EXT-X-DISCONTINUITY\n" not in text
    key = KeyTag("k/1.key", "0" * 32)
    keyed = playlist(entry(0, key=key), entry(1, gap=True), entry(2, key=key)).render()
    assert keyed.count("#EXT-X-KEY:METHOD=AES-128") == 2 and "METHOD=NONE" not in keyed
    assert keyed.index("#EXT-X-GAP") < keyed.index("live_720p-00001.ts")


def test_a_real_jump_still_empties_the_playlist() -> None:
    made = playlist(entry(0), entry(1, gap=True), entry(5))
    assert [e.seq for e in made.entries] == [5] and made.entries[0].discontinuity


def test_the_iframe_playlist_skips_gaps() -> None:
    made = playlist(entry(0, keyframes=2), entry(1, gap=True), entry(2, keyframes=1))
    text = render_iframes(made)
    assert "00001" not in text and "#EXT-X-GAP" not in text
    assert [s.uri for s in parse_media_text(text).segments] == [
        "https://cdn/x/live_720p-00000.ts"] * 2 + ["https://cdn/x/live_720p-00002.ts"]


def test_the_low_latency_playlist_lists_a_gap_without_parts() -> None:
    made = MediaPlaylist(target_duration=2, window=10)
    for seq in range(4):
        made.add(entry(seq, gap=seq == 3, fmp4=True))
    parts = {seq: [Part(seq, i, f"live_720p-{seq:05d}.{i}.m4s", 0.5, i == 0)
                   for i in range(4)] for seq in range(3)}
    text = LowLatencyView(made, 0.5, parts).render()
    tail = text[text.index("live_720p-00002.m4s"):]
    assert tail.splitlines()[1:5] == ["#EXT-X-PROGRAM-DATE-TIME:2026-11-27T12:00:06.000Z",
                                      "#EXT-X-GAP", "#EXTINF:2.000,", "live_720p-00003.m4s"]
    assert "live_720p-00003.0" not in text
    assert LowLatencyView(made, 0.5, parts).last() == (3, None)


def test_retention_never_deletes_a_gap() -> None:
    retention = Retention()
    retention.schedule([entry(0), entry(1, gap=True)], 4.0, now=0.0)
    assert retention.due(100.0) == ["live_720p-00000.ts"]


# -- which numbers are missing -------------------------------------------------------------

def ladder(*rungs: str, segment: float = 1.0, window: int = 5) -> LadderProgress:
    progress = LadderProgress(segment, window)
    progress.set_rungs(rungs)
    return progress


def test_a_rung_that_stops_gets_gaps_one_segment_after_its_siblings() -> None:
    """1. a and b cut 0..2 together; b stops
    2. a's 3 at t=3: b's 3 is due at 3 + its lag (0.1) + one segment, not before
    3. a keeps going: b's numbers follow one by one, each with a's duration"""
    progress = ladder("a", "b")
    for seq in range(3):
        assert progress.segment("a", seq, 1.0, float(seq)) == []
        assert progress.segment("b", seq, 1.0, seq + 0.1) == []
    progress.segment("a", 3, 0.96, 3.0)
    assert progress.next_due() == 3.0 + 0.1 + 1.0
    assert progress.due(4.0) == []
    assert progress.due(4.1) == [Missing("b", 3, 0.96)]
    progress.segment("a", 4, 1.0, 4.0)
    progress.segment("a", 5, 1.0, 5.0)
    assert progress.due(6.2) == [Missing("b", 4, 1.0), Missing("b", 5, 1.0)]
    assert progress.next_due() is None  # nothing known past 5
    assert progress.listed("b", 5) and not progress.listed("a", 6)


def test_a_rung_steadily_late_gets_no_gap() -> None:
    """b always finishes 0.9 s after a (more than half a segment): never a gap."""
    progress = ladder("a", "b")
    for seq in range(20):
        progress.segment("a", seq, 1.0, float(seq))
        assert progress.due(seq + 0.89) == []
        assert progress.segment("b", seq, 1.0, seq + 0.9) == []
        assert progress.due(seq + 0.95) == []


def test_a_late_segment_is_refused_and_sets_the_pace() -> None:
    """1. b falls silent; its 3 becomes a gap
    2. b's real 3 arrives after that: refused (None), never listed out of order
    3. b's 4 comes as late as its 3: the pace it showed, so no gap for it"""
    progress = ladder("a", "b")
    for seq in range(3):
        progress.segment("a", seq, 1.0, float(seq))
        progress.segment("b", seq, 1.0, float(seq))
    progress.segment("a", 3, 1.0, 3.0)
    assert progress.due(4.0) == [Missing("b", 3, 1.0)]
    assert progress.listed("b", 3) and progress.segment("b", 3, 1.0, 4.6) is None
    progress.segment("a", 4, 1.0, 4.0)
    assert progress.due(5.5) == []  # due at 4 + 1.6 + 1
    assert progress.segment("b", 4, 1.0, 5.6) == []


def test_a_restarting_rung() -> None:
    """1. b is 0.5 s late; a has 1 and 2 when b's encoder restarts (at 2.2)
    2. 1 and 2 are missing at once: the old run is over, the new one numbers after them
    3. a's 3 (after the restart) gets one and a half segments of grace, not b's old lag:
       the restarted encoder's first segment, 1.4 s after a's, is in time
    4. then one segment and b's lag again"""
    progress = ladder("a", "b")
    progress.segment("a", 0, 1.0, 0.0)
    progress.segment("b", 0, 1.0, 0.5)
    progress.segment("a", 1, 1.0, 1.0)
    progress.segment("a", 2, 1.0, 2.0)
    progress.restarting("b", 2.2)
    assert progress.due(2.2) == [Missing("b", 1, 1.0), Missing("b", 2, 1.0)]
    progress.segment("a", 3, 1.0, 3.0)
    assert progress.next_due() == 4.5
    assert progress.segment("b", 3, 1.0, 4.4) == []  # its first segment is in time
    progress.segment("a", 4, 1.0, 4.0)
    assert progress.next_due() == 4.0 + 1.4 + 1.0  # back to one segment and its lag


def test_parts_on_their_way_hold_the_gap_back() -> None:
    progress = ladder("a", "b")
    progress.segment("a", 0, 1.0, 0.0)
    progress.segment("b", 0, 1.0, 0.0)
    progress.segment("a", 1, 1.0, 1.0)
    assert progress.part("b", 1, 1.8)
    assert progress.next_due() == 2.8
    assert progress.due(2.5) == []
    assert progress.due(2.8) == [Missing("b", 1, 1.0)]
    assert not progress.part("b", 1, 2.9)  # its segment will be late: so is the part


def test_a_jump_within_the_window_is_filled_a_longer_one_is_not() -> None:
    progress = ladder("a", "b", window=5)
    for seq in range(2):
        progress.segment("a", seq, 1.0, float(seq))
        progress.segment("b", seq, 1.0, float(seq))
    progress.segment("a", 2, 0.98, 2.0)
    # b comes back numbered 4 before any deadline: 2 (a's duration) and 3 (unknown:
    # segment_length) are listed as gaps first
    assert progress.segment("b", 4, 1.0, 2.5) == [Missing("b", 2, 0.98), Missing("b", 3, 1.0)]
    assert progress.segment("b", 11, 1.0, 3.0) == []  # 6 missing > window 5: left as a jump


def test_no_gaps_for_one_rung_nor_before_a_rung_s_first_segment() -> None:
    alone = ladder("a")
    alone.segment("a", 0, 1.0, 0.0)
    assert alone.segment("a", 3, 1.0, 1.0) == [] and alone.next_due() is None
    assert not alone.listed("a", 0)  # a single rung's segments are never refused
    progress = ladder("a", "b")
    for seq in range(5):
        progress.segment("a", seq, 1.0, float(seq))
    assert progress.due(100.0) == [] and progress.next_due() is None  # b never started
    progress.set_rungs(["a", "b", "c"])  # a reload adds c: a and b go on
    assert progress.listed("a", 4) and progress.rungs == ["a", "b", "c"]
