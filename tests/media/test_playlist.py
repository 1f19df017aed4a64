"""hlsd.playlist and hlsd.playlistparse: golden texts, one test per rule, and properties over
random add sequences.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hlsd.media.master import Variant, render_master
from hlsd.media.parse import parse_attributes, parse_master, parse_media
from hlsd.media.playlist import Entry, KeyTag, MediaPlaylist, PlaylistError, extinf_rounded
from tests.hlscheck import MediaPlaylistWatcher, check_master

GOLDEN = Path(__file__).parents[1] / "golden"
T0 = datetime(2026, 11, 21, 13, 20, tzinfo=UTC)


def fill(
    playlist: MediaPlaylist,
    durations: list[float],
    *,
    start: int = 0,
    pdt: bool = True,
    disc: tuple[int, ...] = (),
    independent: bool = True,
) -> list[Entry]:
    removed: list[Entry] = []
    at = T0
    for i, duration in enumerate(durations, start):
        entry = Entry(
            i, f"live_ep_720p-{i:05d}.ts", duration, i in disc, at if pdt else None, independent
        )
        removed += playlist.add(entry)
        at += timedelta(seconds=duration)
    return removed


def golden_media() -> dict[str, MediaPlaylist]:
    sliding = MediaPlaylist(target_duration=4, window=3)
    fill(sliding, [4.0, 3.96, 4.004, 3.5, 4.2, 4.0, 3.9, 4.1])
    discontinuity = MediaPlaylist(6, window=4, url_prefix="https://cdn.example.com/live/")
    fill(discontinuity, [6.0] * 10, disc=(3, 8))
    event = MediaPlaylist(4, window=0)
    fill(event, [4.0, 4.0, 2.5])
    vod = MediaPlaylist(10, window=0)
    fill(vod, [10.01, 9.99, 0.52], pdt=False, independent=False)
    vod.end()
    return {
        "live_sliding": sliding,
        "live_discontinuity": discontinuity,
        "event": event,
        "vod": vod,
    }


def golden_variants() -> list[Variant]:
    return [
        Variant(
            "live_ep_720p.m3u8", 3_300_000, 3_000_000, "avc1.64001f,mp4a.40.2", (1280, 720), 29.97
        ),
        Variant("live_ep_audio.m3u8", 140_000, 128_000, "mp4a.40.2"),
        Variant("live_ep_360p.m3u8", 900_000, 800_000, "avc1.4d401e,mp4a.40.2", (640, 360), 30.0),
    ]


# --- golden round trips ---------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(golden_media()))
def test_golden_media_render(name: str) -> None:
    assert golden_media()[name].render() == (GOLDEN / f"{name}.m3u8").read_text()


@pytest.mark.parametrize("name", sorted(golden_media()))
def test_golden_media_round_trip(name: str) -> None:
    model = golden_media()[name]
    text = (GOLDEN / f"{name}.m3u8").read_text()
    parsed = parse_media(text, url_prefix=model.url_prefix, window=model.window)
    assert parsed == model
    assert parsed.render() == text


def test_golden_master_render_and_round_trip() -> None:
    text = (GOLDEN / "master.m3u8").read_text()
    assert render_master(golden_variants()) == text
    hi, audio, low = golden_variants()
    # the video rung nearest 2 Mbit/s from below first, other video up, audio-only last
    assert parse_master(text) == [low, hi, audio]


def test_golden_files_pass_the_checker() -> None:
    for name in [*golden_media(), "ffmpeg_live"]:
        MediaPlaylistWatcher(name).check((GOLDEN / f"{name}.m3u8").read_text(), lambda _: True)
    check_master((GOLDEN / "master.m3u8").read_text(), lambda _: True)


def test_parses_ffmpeg_output() -> None:
    """ffmpeg writes PROGRAM-DATE-TIME between EXTINF and URI, with a +0000 offset."""
    parsed = parse_media((GOLDEN / "ffmpeg_live.m3u8").read_text())
    assert (parsed.target_duration, parsed.media_sequence, parsed.ended) == (2, 3, True)
    assert [(e.seq, e.name, e.duration) for e in parsed.entries] == [
        (3, "seg3.ts", 2.0),
        (4, "seg4.ts", 2.0),
        (5, "seg5.ts", 1.0),
    ]
    assert parsed.entries[1].program_date_time == datetime(2026, 11, 21, 13, 24, 20, 486000, UTC)
    assert not parsed.entries[0].independent  # no INDEPENDENT-SEGMENTS tag


def test_parse_tolerates_unknown_tags_comments_and_crlf() -> None:
    text = (
        "#EXTM3U\r\n#EXT-X-VERSION:3\r\n# a comment\r\n#EXT-X-ALLOW-CACHE:NO\r\n"
        "#EXT-X-TARGETDURATION:5\r\n\r\n#EXT-X-SOMETHING-NEW:A=1\r\n#EXTINF:4.5,title\r\n"
        "a.ts\r\n"
    )
    parsed = parse_media(text)
    assert parsed.entries == [Entry(0, "a.ts", 4.5, independent=False)]
    assert parsed.window == 1


@pytest.mark.parametrize(
    "text",
    [
        "",
        "#EXT-X-VERSION:3\n#EXTM3U\n",
        "#EXTM3U\n#EXTINF:4.0,\na.ts\n",
        "#EXTM3U\n#EXT-X-TARGETDURATION:4\na.ts\n",
        "#EXTM3U\n#EXT-X-TARGETDURATION:four\n",
        "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:abc,\na.ts\n",
        "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-PROGRAM-DATE-TIME:2026-11-21T13:20:00\n"
        "#EXTINF:4.0,\na.ts\n",
    ],
)
def test_parse_media_rejects_non_playlists(text: str) -> None:
    with pytest.raises(PlaylistError):
        parse_media(text)


def test_parse_attributes_keeps_commas_inside_quotes() -> None:
    assert parse_attributes('BANDWIDTH=5,CODECS="a,b",RESOLUTION=2x1') == {
        "BANDWIDTH": "5",
        "CODECS": "a,b",
        "RESOLUTION": "2x1",
    }


# --- add(): one test per rule ---------------------------------------------------------


def test_sequence_never_goes_back() -> None:
    playlist = MediaPlaylist(4)
    fill(playlist, [4.0, 4.0])
    for seq in (0, 1):
        with pytest.raises(PlaylistError, match="goes back"):
            playlist.add(Entry(seq, "x.ts", 4.0))
    fresh = MediaPlaylist.from_dict({**MediaPlaylist(4).to_dict(), "media_sequence": 7})
    with pytest.raises(PlaylistError):
        fresh.add(Entry(6, "x.ts", 4.0))


def test_duration_rounding_above_target_is_refused() -> None:
    playlist = MediaPlaylist(4)
    playlist.add(Entry(0, "a.ts", 4.499))
    with pytest.raises(PlaylistError, match="target duration"):
        playlist.add(Entry(1, "b.ts", 4.5))  # half-up: "4.500" may be read as 5
    with pytest.raises(PlaylistError):
        playlist.add(Entry(1, "b.ts", 4.4996))  # written as 4.500
    assert extinf_rounded(4.4994) == 4 and extinf_rounded(4.4996) == 5


def test_first_add_sets_media_sequence() -> None:
    playlist = MediaPlaylist(4)
    playlist.add(Entry(17, "a.ts", 4.0))
    assert playlist.media_sequence == 17 and not playlist.entries[0].discontinuity


def test_gap_empties_playlist_and_marks_discontinuity() -> None:
    playlist = MediaPlaylist(4, window=6)
    fill(playlist, [4.0, 4.0, 4.0], disc=(1,))
    removed = playlist.add(Entry(9, "live-9.ts", 4.0))
    assert [e.seq for e in removed] == [0, 1, 2]
    assert playlist.entries == [Entry(9, "live-9.ts", 4.0, discontinuity=True)]
    assert playlist.media_sequence == 9
    assert playlist.discontinuity_sequence == 1  # entry 1 carried a DISCONTINUITY and left
    assert "#EXT-X-DISCONTINUITY\n#EXTINF:4.000,\nlive-9.ts" in playlist.render()


def test_sliding_keeps_window_entries() -> None:
    playlist = MediaPlaylist(4, window=3)
    removed = fill(playlist, [4.0] * 5)
    assert [e.seq for e in removed] == [0, 1]
    assert [e.seq for e in playlist.entries] == [2, 3, 4]
    assert playlist.media_sequence == 2


def test_sliding_keeps_more_than_window_to_stay_three_target_durations() -> None:
    playlist = MediaPlaylist(4, window=2)
    fill(playlist, [3.0] * 10)
    assert len(playlist.entries) == 4  # 4 x 3 s = 12 s; 3 entries would be 9 s < 12 s
    assert playlist.duration == 12.0


def test_removed_discontinuity_increments_discontinuity_sequence() -> None:
    playlist = MediaPlaylist(4, window=3)
    removed = fill(playlist, [4.0] * 6, disc=(1, 4))
    assert [e.seq for e in removed] == [0, 1, 2]
    assert playlist.discontinuity_sequence == 1
    assert playlist.render().count("#EXT-X-DISCONTINUITY\n") == 1


def test_window_zero_keeps_everything() -> None:
    playlist = MediaPlaylist(4, window=0)
    assert fill(playlist, [4.0] * 50) == []
    assert len(playlist.entries) == 50 and playlist.media_sequence == 0


def test_end_then_add_raises() -> None:
    playlist = MediaPlaylist(4, window=0)
    fill(playlist, [4.0])
    playlist.end()
    playlist.end()  # idempotent
    assert playlist.render().endswith("live_ep_720p-00000.ts\n#EXT-X-ENDLIST\n")
    with pytest.raises(PlaylistError, match="ENDLIST"):
        playlist.add(Entry(1, "b.ts", 4.0))


@pytest.mark.parametrize(
    ("window", "ended", "kind"),
    [(0, False, "EVENT"), (0, True, "VOD"), (6, False, None), (6, True, None)],
)
def test_playlist_type(window: int, ended: bool, kind: str | None) -> None:
    playlist = MediaPlaylist(4, window=window)
    fill(playlist, [4.0])
    if ended:
        playlist.end()
    text = playlist.render()
    assert ("#EXT-X-PLAYLIST-TYPE" in text) == (kind is not None)
    if kind:
        assert f"#EXT-X-PLAYLIST-TYPE:{kind}\n" in text


def test_independent_segments_only_when_all_are() -> None:
    playlist = MediaPlaylist(4)
    assert "INDEPENDENT" not in playlist.render()
    playlist.add(Entry(0, "a.ts", 4.0))
    assert "#EXT-X-INDEPENDENT-SEGMENTS\n" in playlist.render()
    playlist.add(Entry(1, "b.ts", 4.0, independent=False))
    assert "INDEPENDENT" not in playlist.render()


def test_entry_normalises_to_what_text_can_say() -> None:
    cest = timezone(timedelta(hours=2))
    entry = Entry(0, "a.ts", 4.0004, program_date_time=datetime(2026, 1, 1, 15, 0, 0, 123999, cest))
    assert entry.duration == 4.0
    assert entry.program_date_time == datetime(2026, 1, 1, 13, 0, 0, 123000, UTC)
    assert entry.program_date_time.tzinfo is UTC
    playlist = MediaPlaylist(4)
    playlist.add(entry)
    assert "#EXT-X-PROGRAM-DATE-TIME:2026-01-01T13:00:00.123Z\n" in playlist.render()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"seq": -1},
        {"name": ""},
        {"name": "a\nb.ts"},
        {"duration": -1.0},
        {"duration": float("nan")},
        {"program_date_time": datetime(2026, 1, 1)},
    ],
)
def test_entry_rejects_invalid_values(kwargs: dict[str, object]) -> None:
    args: dict[str, object] = {"seq": 0, "name": "a.ts", "duration": 4.0, **kwargs}
    with pytest.raises(PlaylistError):
        Entry(**args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kwargs", [{"target_duration": 0}, {"window": -1}, {"url_prefix": "http://x/\n"}]
)
def test_media_playlist_rejects_invalid_settings(kwargs: dict[str, object]) -> None:
    args: dict[str, object] = {"target_duration": 4, **kwargs}
    with pytest.raises(PlaylistError):
        MediaPlaylist(**args)  # type: ignore[arg-type]


def test_state_round_trip_through_json() -> None:
    for model in golden_media().values():
        state = json.loads(json.dumps(model.to_dict()))
        restored = MediaPlaylist.from_dict(state)
        assert restored == model
        assert restored.longest_duration == model.longest_duration
        assert restored.render() == model.render()


@pytest.mark.parametrize(
    "change",
    [
        lambda s: s.pop("target_duration"),
        lambda s: s.update(media_sequence=s["media_sequence"] + 1),
        lambda s: s["entries"][1].update(seq=99),
        lambda s: s["entries"][0].update(program_date_time="yesterday"),
        lambda s: s.update(extra=1),
    ],
)
def test_from_dict_rejects_broken_state(change: object) -> None:
    state = golden_media()["live_sliding"].to_dict()
    change(state)  # type: ignore[operator]
    with pytest.raises(PlaylistError):
        MediaPlaylist.from_dict(state)


def test_longest_duration_tracks_the_longest_rendered_window() -> None:
    playlist = MediaPlaylist(4, window=2)
    # 12, 13, 14 (two short segments kept for the 3 x target floor), 14, 14, then back to 12
    fill(playlist, [4.0, 4.0, 4.0, 1.0, 1.0, 4.0, 4.0, 4.0])
    assert [e.duration for e in playlist.entries] == [4.0, 4.0, 4.0]
    assert playlist.longest_duration == 14.0


# --- master ---------------------------------------------------------------------------


def test_master_lists_video_first_audio_last_and_omits_absent_attributes() -> None:
    text = render_master(golden_variants(), independent_segments=False)
    lines = text.splitlines()
    assert lines[:2] == ["#EXTM3U", "#EXT-X-VERSION:3"]
    assert "INDEPENDENT" not in text
    assert lines[3::2] == ["live_ep_360p.m3u8", "live_ep_720p.m3u8", "live_ep_audio.m3u8"]
    # no captions anywhere: every variant says so (RFC 8216 §4.3.4.2: NONE on all)
    assert lines[2].endswith("RESOLUTION=640x360,FRAME-RATE=30.000,CLOSED-CAPTIONS=NONE")
    assert lines[4].endswith("RESOLUTION=1280x720,FRAME-RATE=29.970,CLOSED-CAPTIONS=NONE")
    assert lines[-2] == (
        '#EXT-X-STREAM-INF:BANDWIDTH=140000,AVERAGE-BANDWIDTH=128000,CODECS="mp4a.40.2",'
        "CLOSED-CAPTIONS=NONE"
    )
    assert render_master([Variant("a.m3u8", 1000)]).endswith(
        "#EXT-X-STREAM-INF:BANDWIDTH=1000,CLOSED-CAPTIONS=NONE\na.m3u8\n"
    )


def test_captions_are_declared_once_and_named_by_the_variants_that_carry_them() -> None:
    variants = [Variant("hi.m3u8", 900, codecs="avc1.4d401e", resolution=(640, 360),
                        captions=True),
                Variant("audio.m3u8", 100, codecs="mp4a.40.2")]
    lines = render_master(variants).splitlines()
    media = [line for line in lines if line.startswith("#EXT-X-MEDIA:")]
    assert media == ['#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID="cc",NAME="CC1",'
                     'INSTREAM-ID="CC1",DEFAULT=YES,AUTOSELECT=YES']
    inf = [line for line in lines if line.startswith("#EXT-X-STREAM-INF:")]
    assert inf[0].endswith('CLOSED-CAPTIONS="cc"') and "CLOSED-CAPTIONS" not in inf[1]


@pytest.mark.parametrize("kwargs", [{"uri": ""}, {"bandwidth": 0}, {"codecs": 'a"b'}])
def test_variant_rejects_invalid_values(kwargs: dict[str, object]) -> None:
    args: dict[str, object] = {"uri": "a.m3u8", "bandwidth": 1, **kwargs}
    with pytest.raises(PlaylistError):
        Variant(**args)  # type: ignore[arg-type]


# --- properties -----------------------------------------------------------------------

steps = st.lists(
    st.tuples(
        st.sampled_from([0] * 8 + [1, 3]),  # how many segments are skipped before this one
        st.floats(min_value=0.0, max_value=1.0),  # duration as a fraction of the allowed max
        st.booleans(),  # discontinuity (encoder restart)
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(
    target=st.integers(1, 10),
    window=st.integers(0, 8),
    independent=st.booleans(),
    prefix=st.sampled_from(["", "https://cdn.example.com/x/"]),
    ops=steps,
)
def test_add_sequence_properties(
    target: int, window: int, independent: bool, prefix: str, ops: list[tuple[int, float, bool]]
) -> None:
    playlist = MediaPlaylist(target, window=window, url_prefix=prefix)
    watcher = MediaPlaylistWatcher()
    seq, since_gap, removed_disc, listed_ever = 5, 0.0, 0, []
    for skip, fraction, disc in ops:
        if skip and playlist.entries:
            seq += skip
            since_gap = 0.0
            if not window:
                # An EVENT playlist may only grow (RFC 8216 §6.2.1), so the reset a gap
                # forces is not something a client could follow: start a new observer.
                watcher = MediaPlaylistWatcher()
        duration = round(0.001 + fraction * (target + 0.499 - 0.001), 3)
        before = (playlist.media_sequence, playlist.discontinuity_sequence)
        removed = playlist.add(Entry(seq, f"s{seq}.ts", duration, disc, T0, independent))
        listed_ever.append(seq)
        seq += 1
        since_gap += duration
        removed_disc += sum(e.discontinuity for e in removed)

        assert playlist.media_sequence >= before[0]
        assert playlist.discontinuity_sequence >= before[1]
        assert playlist.media_sequence == playlist.entries[0].seq
        assert playlist.discontinuity_sequence == removed_disc
        assert all(extinf_rounded(e.duration) <= target for e in playlist.entries)
        if window:
            assert playlist.duration >= min(3 * target, since_gap) - 1e-6
            if len(playlist.entries) > window:  # kept beyond the window only when needed
                assert playlist.duration - playlist.entries[0].duration < 3 * target - 1e-9
        else:
            assert [e.seq for e in playlist.entries][-1] == listed_ever[-1]
        text = playlist.render()
        assert parse_media(text, url_prefix=prefix, window=window) == playlist
        watcher.check(text, lambda _: True)


# -- fMP4 (EXT-X-MAP) and AES-128 (EXT-X-KEY) --------------------------------------------

IV = "00112233445566778899aabbccddeeff"


def keyed(seq: int, init: str | None, key: str | None, disc: bool = False) -> Entry:
    return Entry(seq, f"s-{seq}.m4s" if init else f"s-{seq}.ts", 2.0, disc, T0,
                 map_name=init, key=KeyTag(key, IV[:-2] + f"{seq:02x}") if key else None)


def test_map_and_keys_render_in_rfc_order_and_round_trip() -> None:
    """1. fMP4 entries under one init, encrypted, the key rotating; then a new init
    2. the playlist is version 6 (MAP), a MAP opens each init's run, a key tag with its
       own IV precedes each segment, and a MAP after a key is preceded by METHOD=NONE
       (the init segment is clear, RFC 8216 §4.3.2.5)
    3. the text reads back into the same entries"""
    playlist = MediaPlaylist(target_duration=2, window=0, url_prefix="https://cdn/")
    for entry in [keyed(0, "i-1.mp4", "k0.key"), keyed(1, "i-1.mp4", "k0.key"),
                  keyed(2, "i-1.mp4", "k1.key"), keyed(3, "i-2.mp4", "k1.key", disc=True)]:
        playlist.add(entry)
    text = playlist.render()
    assert "#EXT-X-VERSION:6" in text
    wanted = ("#EXT-X-MAP", "#EXT-X-KEY", "https")
    lines = [line for line in text.splitlines()
             if line.startswith(wanted) or line == "#EXT-X-DISCONTINUITY"]
    assert lines[:3] == ['#EXT-X-MAP:URI="https://cdn/i-1.mp4"',
                         f'#EXT-X-KEY:METHOD=AES-128,URI="k0.key",IV=0x{IV[:-2]}00',
                         "https://cdn/s-0.m4s"]
    new_map = lines.index('#EXT-X-MAP:URI="https://cdn/i-2.mp4"')
    assert lines[new_map - 2:new_map] == ["#EXT-X-DISCONTINUITY", "#EXT-X-KEY:METHOD=NONE"]
    assert sum(line.startswith("#EXT-X-KEY:METHOD=AES-128") for line in lines) == 4
    back = parse_media(text, url_prefix="https://cdn/")
    assert back.entries == playlist.entries
    assert MediaPlaylist.from_dict(playlist.to_dict()) == playlist


def test_clear_playlists_stay_version_3_and_keyless() -> None:
    playlist = MediaPlaylist(target_duration=2, window=0)
    playlist.add(keyed(0, None, None))
    assert "#EXT-X-VERSION:3" in playlist.render()
    assert "#EXT-X-KEY" not in playlist.render() and "#EXT-X-MAP" not in playlist.render()


def test_a_change_of_segment_format_starts_the_playlist_anew() -> None:
    """TS after fMP4 would be read with the fMP4 init (a MAP cannot be taken back)."""
    playlist = MediaPlaylist(target_duration=2, window=6)
    playlist.add(keyed(0, "i-1.mp4", None))
    playlist.add(keyed(1, "i-1.mp4", None))
    removed = playlist.add(keyed(2, None, None))
    assert [e.seq for e in removed] == [0, 1]
    assert [e.seq for e in playlist.entries] == [2] and playlist.entries[0].discontinuity
    assert "#EXT-X-MAP" not in playlist.render()


@pytest.mark.parametrize(("uri", "iv"), [("", IV), ('a"b', IV), ("k", "00"), ("k", IV.upper())])
def test_key_tag_rejects_what_cannot_be_written(uri: str, iv: str) -> None:
    with pytest.raises(PlaylistError):
        KeyTag(uri, iv)


def test_ad_marks_render_before_their_segment_and_survive_state_and_parse() -> None:
    """Marks (DATERANGE, CUE-OUT) print before their segment's PDT and EXTINF, come back
    from the persisted state and from the text, and leave with their segment."""
    from hlsd.media.parse import parse_media

    marks = ('#EXT-X-DATERANGE:ID="ad",START-DATE="2026-12-06T10:00:04.000Z",'
             "PLANNED-DURATION=6.000,SCTE35-OUT=0xFC", "#EXT-X-CUE-OUT:DURATION=6.000")
    start = datetime(2026, 12, 6, 10, 0, 0, tzinfo=UTC)
    playlist = MediaPlaylist(target_duration=4, window=3)
    for seq in range(3):
        playlist.add(Entry(seq, f"s{seq}.ts", 4.0, program_date_time=start.replace(
            second=4 * seq), marks=marks if seq == 1 else ()))
    text = playlist.render()
    lines = text.splitlines()
    at = lines.index(marks[0])
    assert lines[at + 1] == marks[1] and lines[at + 2].startswith("#EXT-X-PROGRAM-DATE-TIME")
    assert lines[at + 4] == "s1.ts"
    assert MediaPlaylist.from_dict(playlist.to_dict()).render() == text
    assert parse_media(text, window=3).entries[1].marks == marks
    playlist.add(Entry(3, "s3.ts", 4.0))
    playlist.add(Entry(4, "s4.ts", 4.0))
    assert "DATERANGE" not in playlist.render()
    with pytest.raises(PlaylistError):
        Entry(5, "s5.ts", 4.0, marks=("#EXT-X-CUE-IN\n#EXTINF:1,",))
