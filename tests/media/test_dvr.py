"""hlsd.media.dvr: the time-shift index, its spans, trimming and state."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from hlsd.media.dvr import DvrIndex
from hlsd.media.dvrstate import CHUNK
from hlsd.media.parse import parse_media
from hlsd.media.playlist import Entry, KeyTag, MediaPlaylist

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
E0 = T0.timestamp()


def filled(count: int, duration: float = 1.0, **kw: object) -> DvrIndex:
    index = DvrIndex()
    for seq in range(count):
        index.add(Entry(seq, f"s{seq}.ts", duration,
                        program_date_time=T0 + timedelta(seconds=seq * duration),
                        **kw))  # type: ignore[arg-type]
    return index


def test_closed_span_lists_from_the_segment_playing_at_start_and_ends() -> None:
    """1. 100 one-second segments; 2. ask for [10.5, 20): 3. segments 10..19, VOD, ENDLIST,
    the first PDT that of segment 10, media sequence 10."""
    text = filled(100).render(E0 + 10.5, E0 + 20, 1)
    assert text is not None
    playlist = parse_media(text)
    assert [e.seq for e in playlist.entries] == list(range(10, 20))
    assert playlist.ended and "#EXT-X-PLAYLIST-TYPE:VOD" in text
    assert playlist.entries[0].program_date_time == T0 + timedelta(seconds=10)
    assert text.count("#EXT-X-PROGRAM-DATE-TIME") == 10


def test_open_span_grows_to_the_edge_and_starts_players_at_its_head() -> None:
    index = filled(30)
    text = index.render(E0 + 25, None, 1)
    assert text is not None and "#EXT-X-ENDLIST" not in text
    assert "#EXT-X-START:TIME-OFFSET=0" in text
    assert [e.seq for e in parse_media(text).entries] == list(range(25, 30))
    # an end still ahead of the edge: open until the edge passes it
    assert "#EXT-X-ENDLIST" not in (index.render(E0 + 25, E0 + 40, 1) or "")


def test_start_older_than_the_index_is_clamped_and_an_empty_span_is_none() -> None:
    index = filled(10)
    text = index.render(E0 - 1000, E0 + 3, 1)
    assert text is not None and [e.seq for e in parse_media(text).entries] == [0, 1, 2]
    assert index.render(E0 - 1000, E0 - 500, 1) is None
    assert DvrIndex().render(E0, None, 1) is None


def test_trim_keeps_the_window_and_the_live_playlist_and_frees_init_segments() -> None:
    index = DvrIndex()
    for seq in range(20):
        index.add(Entry(seq, f"s{seq}.m4s", 1.0, map_name="a.mp4" if seq < 5 else "b.mp4",
                        program_date_time=T0 + timedelta(seconds=seq)))
    removed, freed = index.trim(10.0, keep_from_seq=14)
    # the edge is at 20 s: entries ending before 10 s go (0..8 end at 1..9; 9 ends at 10)
    assert [e.seq for e in removed] == list(range(9)) and freed == ["a.mp4"]
    assert index.oldest == E0 + 9
    removed, _ = index.trim(0.0, keep_from_seq=14)  # the live playlist stays whatever
    assert [e.seq for e in removed] == list(range(9, 14)) and len(index) == 6


def test_discontinuity_numbers_agree_whatever_span_names_a_segment() -> None:
    index = DvrIndex()
    for seq in range(12):
        index.add(Entry(seq, f"s{seq}.ts", 1.0, discontinuity=seq in (4, 8),
                        program_date_time=T0 + timedelta(seconds=seq)))
    numbers: dict[int, set[int]] = {}
    for start in range(12):
        text = index.render(E0 + start, None, 1)
        assert text is not None
        playlist = parse_media(text)
        number = playlist.discontinuity_sequence
        for entry in playlist.entries:
            number += entry.discontinuity and entry is not playlist.entries[0]
            numbers.setdefault(entry.seq, set()).add(number)
    assert all(len(n) == 1 for n in numbers.values()), numbers
    assert numbers[3] == {0} and numbers[4] == {1} and numbers[11] == {2}


def test_keys_maps_and_gaps_are_rendered_as_the_live_playlist_does() -> None:
    key = KeyTag("k1.key", "0" * 32)
    live = MediaPlaylist(2, window=0)
    index = DvrIndex()
    for seq in range(4):
        entry = Entry(seq, f"s{seq}.m4s", 2.0, map_name="i.mp4", key=key if seq else None,
                      gap=seq == 2, program_date_time=T0 + timedelta(seconds=2 * seq))
        live.add(entry)
        index.add(entry)
    text = index.render(E0, None, 2)
    assert text is not None
    ours = [line for line in text.splitlines() if not line.startswith(
        ("#EXT-X-START", "#EXT-X-PLAYLIST-TYPE"))]
    theirs = [line for line in live.render().splitlines()
              if not line.startswith("#EXT-X-PLAYLIST-TYPE")]
    assert ours == theirs


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 300), st.integers(0, 50))
def test_state_round_trip(count: int, trimmed: int) -> None:
    index = filled(count, 2.0, map_name="init.mp4")
    index.trim(2.0 * (count - trimmed), keep_from_seq=count)
    back = DvrIndex.from_dict(json.loads(json.dumps(index.to_dict())))
    assert list(back.entries()) == list(index.entries())
    assert back.render(E0, None, 2) == index.render(E0, None, 2)
    if len(index):  # the init segment is freed once, with the last entry naming it
        assert back.trim(-1e9, count)[1] == ["init.mp4"]


def test_saved_chunks_are_reused_and_survive_compaction() -> None:
    """Full chunks are encoded once; a restored index trims, compacts and saves alike."""
    index = filled(3 * CHUNK + 10)
    first = index.to_dict()
    index.add(Entry(3 * CHUNK + 10, "x.ts", 1.0,
                    program_date_time=T0 + timedelta(seconds=3 * CHUNK + 10)))
    again = index.to_dict()
    assert [a is b for a, b in zip(first["chunks"], again["chunks"], strict=True)] == [
        True, True, True, False]
    index.trim(float(CHUNK), keep_from_seq=10**9)  # past a chunk boundary: compacted
    back = DvrIndex.from_dict(json.loads(json.dumps(index.to_dict())))
    assert list(back.entries()) == list(index.entries())
    back.trim(100.0, keep_from_seq=10**9)
    index.trim(100.0, keep_from_seq=10**9)
    assert list(back.entries()) == list(index.entries())
    assert back.to_dict() == index.to_dict()


def test_compaction_keeps_every_span_right() -> None:
    index = filled(20_000)
    removed, _ = index.trim(5_000.0, keep_from_seq=19_990)
    assert len(removed) == 14_999 and len(index) == 5_001
    text = index.render(E0 + 17_000.2, E0 + 17_003, 1)
    assert text is not None
    assert [e.seq for e in parse_media(text).entries] == [17_000, 17_001, 17_002]


def test_rendered_chunks_are_reused_with_the_map_and_key_in_force() -> None:
    """Spans rendered from kept chunk texts equal those of an index that never rendered."""
    def build() -> DvrIndex:
        index = DvrIndex()
        for seq in range(2 * CHUNK + 300):
            index.add(Entry(seq, f"s{seq}.m4s", 1.0, map_name=f"i{seq // 1500}.mp4",
                            key=KeyTag("k.key", f"{seq:032x}") if seq % 3000 < 1000 else None,
                            gap=seq % 977 == 0, discontinuity=seq % 1200 == 0,
                            program_date_time=T0 + timedelta(seconds=seq)))
        return index
    warm = build()
    spans = [(0.0, None), (10.5, None), (4000.0, 2 * CHUNK + 10.0), (CHUNK + 0.0, None)]
    for start, end in spans:  # twice: the second time from the kept texts
        warm.render(E0 + start, None if end is None else E0 + end, 1)
    for start, end in spans:
        args = (E0 + start, None if end is None else E0 + end, 1, "https://cdn/")
        assert warm.render(*args) == build().render(*args)
    warm.trim(100.0, keep_from_seq=10**9)  # chunks that left are forgotten
    assert all(key[0] >= 2 for key in warm._rendered)


def expand(delta: str, skipped: int) -> MediaPlaylist:
    """The delta's listed entries as their own playlist: the EXT-X-SKIP line dropped and the
    media sequence moved past what it replaced."""
    lines = delta.splitlines()
    lines.remove(f"#EXT-X-SKIP:SKIPPED-SEGMENTS={skipped}")
    at = next(i for i, line in enumerate(lines) if line.startswith("#EXT-X-MEDIA-SEQUENCE:"))
    lines[at] = f"#EXT-X-MEDIA-SEQUENCE:{int(lines[at].split(':')[1]) + skipped}"
    return parse_media("\n".join(lines) + "\n")


def header(text: str, tag: str) -> str:
    return next(line for line in text.splitlines() if line.startswith(tag))


def test_open_span_offers_delta_updates_that_skip_all_but_six_target_durations() -> None:
    """1. 100 one-second segments, the open span from segment 10. 2. The full answer offers
    CAN-SKIP-UNTIL (6 target durations). 3. `skip` replaces segments 10..93 with one
    EXT-X-SKIP (each followed by ≥ 6 s); the rest, 94..99, are the full answer's last entries,
    with the same media and discontinuity sequences; version 9."""
    index = filled(100)
    full = index.render(E0 + 10, None, 1)
    delta = index.render(E0 + 10, None, 1, skip=True)
    assert full is not None and delta is not None
    assert "#EXT-X-SERVER-CONTROL:CAN-SKIP-UNTIL=6.000" in full.splitlines()
    assert "#EXT-X-SKIP" not in full and "#EXT-X-VERSION:9" in delta.splitlines()
    assert [e.seq for e in expand(delta, 84).entries] == list(range(94, 100))
    assert expand(delta, 84).entries == parse_media(full).entries[84:]
    for tag in ("#EXT-X-MEDIA-SEQUENCE:", "#EXT-X-DISCONTINUITY-SEQUENCE:",
                "#EXT-X-SERVER-CONTROL:", "#EXT-X-START:"):
        assert header(delta, tag) == header(full, tag)
    assert index.render(E0 + 10, None, 1, skip=True) is delta  # kept, like full answers


def test_closed_and_short_spans_offer_no_skipping_and_answer_whole() -> None:
    index = filled(100)
    closed = index.render(E0 + 10, E0 + 50, 1)
    short = index.render(E0 + 94, None, 1)  # 6 s: nothing a delta could leave out
    assert closed is not None and short is not None
    for text in (closed, short):
        assert "CAN-SKIP-UNTIL" not in text
    assert index.render(E0 + 10, E0 + 50, 1, skip=True) == closed
    assert index.render(E0 + 94, None, 1, skip=True) == short


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([0.5, 1.0, 2.0]), st.booleans(), st.booleans(),
                          st.integers(0, 2), st.booleans()), min_size=1, max_size=60),
       st.integers(0, 59), st.integers(1, 2))
def test_a_delta_expanded_equals_the_full_answer(
        specs: list[tuple[float, bool, bool, int, bool]], first: int, target: int) -> None:
    """Discontinuities, keys, init segments and gaps anywhere: the entries a delta lists
    are the full answer's last ones, tags in force (MAP, KEY) included, and it skips every
    entry followed by at least six target durations."""
    index, start = DvrIndex(), 0.0
    for seq, (duration, disc, keyed, init, gap) in enumerate(specs):
        index.add(Entry(seq, f"s{seq}.m4s", duration, discontinuity=disc and seq > 0,
                        key=KeyTag("k.key", f"{seq:032x}") if keyed else None,
                        map_name=f"i{init}.mp4", gap=gap,
                        program_date_time=T0 + timedelta(seconds=start)))
        start += duration
    begin = E0 + sum(d for d, *_ in specs[:min(first, len(specs) - 1)])
    full = index.render(begin, None, target, "https://cdn/")
    delta = index.render(begin, None, target, "https://cdn/", skip=True)
    assert full is not None and delta is not None
    entries = parse_media(full).entries
    durations = [e.duration for e in entries]
    expected = sum(1 for i in range(len(entries)) if sum(durations[i + 1:]) >= 6 * target)
    if not expected:
        assert delta == full and "CAN-SKIP-UNTIL" not in full
        return
    assert expand(delta, expected).entries == entries[expected:]
    assert header(delta, "#EXT-X-DISCONTINUITY-SEQUENCE:") == header(
        full, "#EXT-X-DISCONTINUITY-SEQUENCE:")
