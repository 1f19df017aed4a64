"""tests/hlscheck.py: it accepts valid playlist histories and names each broken rule."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hlsd.media.playlist import Entry, MediaPlaylist
from tests.hlscheck import MediaPlaylistWatcher, check_master, parse_media_text

GOLDEN = Path(__file__).parent / "golden"


def always(_: str) -> bool:
    return True


def media(
    msn: int,
    durations: list[str],
    *,
    target: int = 4,
    dsn: int = 0,
    disc: tuple[int, ...] = (),
    head: str = "",
    tail: str = "",
    version: str = "#EXT-X-VERSION:3\n",
) -> str:
    """A media playlist whose segment at MSN n is named sn.ts."""
    body = "".join(
        ("#EXT-X-DISCONTINUITY\n" if msn + i in disc else "") + f"#EXTINF:{d},\ns{msn + i}.ts\n"
        for i, d in enumerate(durations)
    )
    return (
        f"#EXTM3U\n{version}#EXT-X-TARGETDURATION:{target}\n#EXT-X-MEDIA-SEQUENCE:{msn}\n"
        f"#EXT-X-DISCONTINUITY-SEQUENCE:{dsn}\n{head}{body}{tail}"
    )


def polls(*texts: str) -> None:
    watcher = MediaPlaylistWatcher("test.m3u8")
    for text in texts:
        watcher.check(text, always)


# --- accepted -------------------------------------------------------------------------


def test_accepts_a_live_history_rendered_by_the_model() -> None:
    """1. Slide a playlist through 40 segments with restarts and a gap.
    2. Check every rendered version, as a client polling after each update would.
    """
    playlist = MediaPlaylist(4, window=3)
    watcher = MediaPlaylistWatcher("model")
    seq = 0
    for i in range(40):
        seq += 5 if i == 25 else 1
        playlist.add(Entry(seq, f"s{seq}.ts", 3.5 + (i % 3) * 0.25, discontinuity=i % 7 == 3))
        watcher.check(playlist.render(), always)
    assert watcher.polls == 40


def test_accepts_polls_that_miss_updates() -> None:
    polls(
        media(0, ["4.0", "4.0", "4.0"], disc=(1,)),
        media(5, ["4.0", "4.0", "4.0"], dsn=1, disc=(6,)),
    )


def test_accepts_event_becoming_vod_and_ffmpeg_output() -> None:
    event = "#EXT-X-PLAYLIST-TYPE:EVENT\n"
    polls(
        media(0, ["4.0"], head=event),
        media(0, ["4.0", "2.0"], head=event),
        media(0, ["4.0", "2.0"], head="#EXT-X-PLAYLIST-TYPE:VOD\n", tail="#EXT-X-ENDLIST\n"),
    )
    polls((GOLDEN / "ffmpeg_live.m3u8").read_text())


def test_accepts_half_way_rounding_either_way() -> None:
    polls(media(0, ["4.500"]))  # "nearest integer" is ambiguous at .5: not a violation


def test_accepts_a_short_live_window_before_anything_was_removed() -> None:
    polls(media(0, ["4.0"]), media(0, ["4.0", "4.0"]))


def test_parse_counts_discontinuity_numbers() -> None:
    parsed = parse_media_text(media(10, ["1.0", "1.0", "1.0"], dsn=3, disc=(11, 12)))
    assert [s.discontinuity_number for s in parsed.segments] == [3, 4, 5]
    assert [s.msn for s in parsed.segments] == [10, 11, 12]


# --- refused, one text ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (media(0, ["4.0"]).removeprefix("#EXTM3U\n"), "#EXTM3U"),
        (media(0, ["4.0"], version="#EXT-X-VERSION:2\n"), "VERSION 2 < 3"),
        (media(0, ["4.0"], version=""), "VERSION 1 < 3"),
        (media(0, ["4"]), "not a decimal float"),
        (media(0, ["4.0e0"]), "not a decimal float"),
        (media(0, ["-4.0"]), "not a decimal float"),
        (media(0, ["4.501"]), "rounds above target"),
        (media(0, ["4.0"]) + "orphan.ts\n", "URI without #EXTINF"),
        (media(0, ["4.0"]).replace("#EXT-X-TARGETDURATION:4\n", ""), "TARGETDURATION"),
        (media(0, ["4.0"], target=0).replace(":0", ":four"), "not a decimal integer"),
        (media(0, ["4.0"], head="#EXT-X-PLAYLIST-TYPE:VOD\n"), "VOD playlist without"),
        (media(0, ["4.0"], head="#EXT-X-PLAYLIST-TYPE:LIVE\n"), "unknown playlist type"),
        (media(0, ["4.0"], head="#EXT-X-PROGRAM-DATE-TIME:2026-11-21T13:20:00\n"), "time zone"),
    ],
)
def test_refuses_invalid_text(text: str, message: str) -> None:
    with pytest.raises(AssertionError, match=re.escape(message)):
        polls(text)


def test_refuses_a_listed_segment_that_does_not_exist() -> None:
    watcher = MediaPlaylistWatcher()
    with pytest.raises(
        AssertionError, match=re.escape("MSN 1: listed segment 's1.ts' does not exist")
    ):
        watcher.check(media(0, ["4.0", "4.0"]), lambda uri: uri != "s1.ts")


# --- refused, across polls ------------------------------------------------------------

LIVE = media(10, ["4.0", "4.0", "4.0"], dsn=2, disc=(11,))


@pytest.mark.parametrize(
    ("second", "message"),
    [
        (media(10, ["4.0", "4.0", "4.0"], dsn=2, disc=(11,), target=5), "target duration changed"),
        (media(9, ["4.0", "4.0", "4.0", "4.0"], dsn=2, disc=(11,)), "media sequence went back"),
        (LIVE.replace("s12.ts", "other.ts"), "MSN 12 changed"),
        (LIVE.replace("#EXTINF:4.0,\ns12", "#EXTINF:3.9,\ns12"), "MSN 12 changed"),
        (media(10, ["4.0", "4.0", "4.0"], dsn=1, disc=(11,)), "discontinuity sequence went back"),
        # MSN 11 carried a DISCONTINUITY; removing 10 alone must not change the sequence...
        (media(11, ["4.0", "4.0", "4.0"], dsn=3, disc=(11,)), "expected 2"),
        # ...and removing 11 must increment it.
        (media(12, ["4.0", "4.0", "4.0"], dsn=2), "expected 3"),
        (media(10, ["4.0", "4.0", "4.0"], dsn=2, disc=(11, 12)), "MSN 12: discontinuity number"),
        (media(11, ["4.0", "4.0"], dsn=2, disc=(11,)), "live window 8.000 s < 3 x target"),
    ],
)
def test_refuses_invalid_change(second: str, message: str) -> None:
    with pytest.raises(AssertionError, match=re.escape(message)):
        polls(LIVE, second)


def test_refuses_a_discontinuity_number_going_back_for_new_segments() -> None:
    # MSN 15 is new (14 was never seen), yet numbered below MSN 13, last seen with number 3.
    with pytest.raises(AssertionError, match="MSN 15: discontinuity number went back"):
        polls(
            media(10, ["4.0", "4.0", "4.0", "4.0"], dsn=2, disc=(13,)),
            media(15, ["4.0", "4.0", "4.0"], dsn=2),
        )


def test_refuses_changes_after_endlist() -> None:
    ended = media(0, ["4.0", "4.0", "4.0"], tail="#EXT-X-ENDLIST\n")
    with pytest.raises(AssertionError, match="ENDLIST disappeared"):
        polls(ended, media(0, ["4.0", "4.0", "4.0"]))
    with pytest.raises(AssertionError, match="segments changed after"):
        polls(ended, media(0, ["4.0", "4.0", "4.0", "4.0"], tail="#EXT-X-ENDLIST\n"))


def test_refuses_event_playlists_that_remove_or_change_type() -> None:
    event = "#EXT-X-PLAYLIST-TYPE:EVENT\n"
    with pytest.raises(AssertionError, match="EVENT playlist removed segments"):
        polls(media(0, ["4.0"] * 4, head=event), media(1, ["4.0"] * 4, head=event))
    with pytest.raises(AssertionError, match="playlist type changed EVENT -> None"):
        polls(media(0, ["4.0"], head=event), media(0, ["4.0", "4.0"]))


def test_window_rule_can_be_switched_off_for_foreign_producers() -> None:
    watcher = MediaPlaylistWatcher(check_window=False)
    watcher.check(media(0, ["3.9", "3.9", "3.9"]), always)
    watcher.check(media(1, ["3.9", "3.9", "3.9"]), always)  # 11.7 s < 12 s


# --- master ---------------------------------------------------------------------------


def test_master_golden_is_accepted() -> None:
    variants = check_master((GOLDEN / "master.m3u8").read_text(), always)
    assert [v["URI"] for v in variants] == [
        "live_ep_360p.m3u8",
        "live_ep_720p.m3u8",
        "live_ep_audio.m3u8",
    ]
    assert variants[2]["CODECS"] == "mp4a.40.2" and "RESOLUTION" not in variants[2]


def master(*stream_inf: str) -> str:
    return "#EXTM3U\n#EXT-X-VERSION:3\n" + "".join(
        f"#EXT-X-STREAM-INF:{attrs}\nv{i}.m3u8\n" for i, attrs in enumerate(stream_inf)
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (master('BANDWIDTH=1000,CODECS="a"').removeprefix("#EXTM3U\n"), "#EXTM3U"),
        (master('AVERAGE-BANDWIDTH=900,CODECS="mp4a.40.2"'), "no BANDWIDTH"),
        (master('BANDWIDTH=1e6,CODECS="mp4a.40.2"'), "not a decimal integer"),
        (master("BANDWIDTH=1000"), "no quoted CODECS"),
        (master("BANDWIDTH=1000,CODECS=mp4a.40.2"), "no quoted CODECS"),
        (master('BANDWIDTH=1000,AVERAGE-BANDWIDTH=2000,CODECS="mp4a.40.2"'), "above BANDWIDTH"),
        (master('BANDWIDTH=1000,CODECS="avc1.64001f",RESOLUTION=1280*720'), "not WxH"),
        (master('BANDWIDTH=1000,CODECS="avc1.64001f",FRAME-RATE=30'), "not a decimal float"),
        ("#EXTM3U\n#EXT-X-VERSION:3\n", "no variants"),
        ("#EXTM3U\nv.m3u8\n", "URI without #EXT-X-STREAM-INF"),
        ('#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,CODECS="a"\n', "has no URI"),
        (
            '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,CODECS="a"\n'
            + master('BANDWIDTH=2,CODECS="a"'),
            "without URI",
        ),
    ],
)
def test_master_refuses(text: str, message: str) -> None:
    with pytest.raises(AssertionError, match=re.escape(message)):
        check_master(text, always)


def test_master_refuses_a_missing_variant_playlist() -> None:
    text = master('BANDWIDTH=1000,CODECS="a"', 'BANDWIDTH=2000,CODECS="a"')
    with pytest.raises(AssertionError, match=re.escape("'v1.m3u8' does not exist")):
        check_master(text, lambda uri: uri == "v0.m3u8")
