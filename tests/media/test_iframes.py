"""The I-frame playlist model: entries per keyframe, numbering across the window."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hlsd.media import daterange
from hlsd.media.breaks import AdBreaks
from hlsd.media.iframes import has_iframes, render_iframes
from hlsd.media.playlist import Entry, MediaPlaylist
from tests.hlscheck import parse_media_text

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def segment(seq: int, keyframes: int, ts: bool = True, disc: bool = False) -> Entry:
    start = 900_000 + seq * 180_000  # 2 s segments at 90 kHz
    frames = tuple((376 + i * 10_000, 4_000, start + i * 90_000) for i in range(keyframes))
    return Entry(seq, f"s-{seq}.ts" if ts else f"s-{seq}.m4s", 2.0, disc, T0, pts=start,
                 iframes=frames, psi=376 if ts else None, map_name=None if ts else "init.mp4")


def test_one_entry_per_keyframe_timed_to_the_next() -> None:
    playlist = MediaPlaylist(target_duration=2, window=0)
    for seq in range(3):
        playlist.add(segment(seq, 2))
    text = render_iframes(playlist)
    facts = parse_media_text(text)
    assert facts.version == 5 and "#EXT-X-I-FRAMES-ONLY" in text
    assert [s.duration for s in facts.segments] == [1.0] * 6
    assert text.count('#EXT-X-MAP:URI="s-0.ts",BYTERANGE="376@0"') == 1  # per segment
    assert "#EXT-X-BYTERANGE:4000@10376" in text


def test_numbering_slides_with_the_window_and_never_goes_back() -> None:
    """The I-frame media sequence counts keyframes: it grows by the keyframes that left."""
    playlist = MediaPlaylist(target_duration=2, window=3)
    for seq in range(5):
        playlist.add(segment(seq, 2 if seq != 3 else 1, ts=False))
    facts = parse_media_text(render_iframes(playlist))
    # 6 segments' worth of keyframes listed from segment 2: 2 (seg 0) + 2 (seg 1) before
    assert facts.msn == 4 and len(facts.segments) == 5
    assert render_iframes(playlist).count("#EXT-X-MAP:") == 1


def test_a_segment_without_keyframes_adds_no_entry_and_audio_has_none() -> None:
    playlist = MediaPlaylist(target_duration=2, window=0)
    playlist.add(segment(0, 0))
    assert not has_iframes(playlist)
    playlist.add(segment(1, 1, disc=True))
    assert render_iframes(playlist).count("#EXTINF") == 1


def test_the_ad_breaks_of_the_variant_with_the_same_ids() -> None:
    """2 s segments 0-5 with a 4 s break (ad_markers [daterange, cue]) opening on 1 and
    returning on 3: the I-frame playlist carries the variant's DATERANGE lines as they
    are, each right before the keyframes of the segment it comes with (whose PDT is its
    START-DATE, then END-DATE); not the legacy CUE-OUT/IN; a valid playlist."""
    breaks = AdBreaks(("daterange", "cue"))
    playlist = MediaPlaylist(target_duration=2, window=0)
    for seq in range(6):
        if seq == 1:
            breaks.cue("ad-1", 4.0)
        date = T0 + timedelta(seconds=2 * seq)
        marks, _ = breaks.marks(seq, date, None)
        playlist.add(replace(segment(seq, 2), program_date_time=date, marks=marks))
    variant = [line for line in playlist.render().splitlines() if "DATERANGE" in line]
    text = render_iframes(playlist)
    lines = text.splitlines()
    assert [line for line in lines if "DATERANGE" in line] == variant and len(variant) == 2
    assert not any(line.startswith("#EXT-X-CUE") for line in lines)
    for line in variant:
        found = daterange.parse(line)
        after = lines[lines.index(line):]
        pdt = next(x for x in after if x.startswith("#EXT-X-PROGRAM-DATE-TIME:"))
        assert datetime.fromisoformat(pdt.split(":", 1)[1]) == (found.end or found.start)
        assert found.id == "ad-1"
    parse_media_text(text)
