"""hlsd.media.master: which variant the master lists first, and the order of the rest."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from hlsd.media.master import START_BITRATE, Variant, playback_order


def video(name: str, peak: int, average: int | None = None) -> Variant:
    return Variant(f"{name}.m3u8", peak, average, "avc1.64001f,mp4a.40.2", (640, 360), 25.0)


def audio(name: str, peak: int) -> Variant:
    return Variant(f"{name}.m3u8", peak, None, "mp4a.40.2")


def names(variants: list[Variant]) -> list[str]:
    return [v.uri.removesuffix(".m3u8") for v in variants]


def test_start_is_the_video_rung_nearest_2_mbits_by_average_from_below() -> None:
    ladder = [audio("a", 70_000), video("v6000", 6_600_000, 6_000_000),
              video("v2000", 2_400_000, 2_000_000),  # peak above 2 Mbit/s, average not
              video("v1100", 1_300_000, 1_100_000), video("v145", 160_000, 145_000)]
    assert names(playback_order(ladder)) == ["v2000", "v145", "v1100", "v6000", "a"]


def test_without_an_average_the_peak_counts() -> None:
    ladder = [video("v3", 3_000_000), video("v1", 1_000_000), video("v2", START_BITRATE)]
    assert names(playback_order(ladder)) == ["v2", "v1", "v3"]


def test_every_video_rung_above_2_mbits_starts_with_the_lowest() -> None:
    ladder = [audio("a", 130_000), video("v8", 8_000_000), video("v4", 4_000_000)]
    assert names(playback_order(ladder)) == ["v4", "v8", "a"]


def test_an_audio_only_ladder_is_listed_by_bandwidth() -> None:
    assert names(playback_order([audio("hi", 160_000), audio("lo", 64_000)])) == ["lo", "hi"]


def test_a_named_start_comes_first_whatever_it_carries() -> None:
    ladder = [audio("a", 64_000), video("v4", 4_000_000), video("v1", 1_000_000)]
    assert names(playback_order(ladder, "v4.m3u8")) == ["v4", "v1", "a"]
    assert names(playback_order(ladder, "a.m3u8")) == ["a", "v1", "v4"]
    assert names(playback_order(ladder, "missing.m3u8")) == ["v1", "v4", "a"]


def test_video_is_known_by_resolution_or_by_a_video_codec() -> None:
    assert Variant("a.m3u8", 1, codecs="hvc1.1.6.L93.B0,mp4a.40.2").video
    assert Variant("a.m3u8", 1, resolution=(2, 2)).video
    assert not Variant("a.m3u8", 1, codecs="mp4a.40.2,ac-3").video
    assert not Variant("a.m3u8", 1).video


@given(st.lists(st.tuples(st.booleans(), st.integers(1, 10_000_000)), min_size=1,
                max_size=8))
def test_order_is_a_permutation_with_video_first_and_audio_last(
        rungs: list[tuple[bool, int]]) -> None:
    ladder = [(video if is_video else audio)(f"r{i}", rate)
              for i, (is_video, rate) in enumerate(rungs)]
    ordered = playback_order(ladder)
    assert sorted(names(ordered)) == sorted(names(ladder))
    kinds = [v.video for v in ordered]
    assert kinds == sorted(kinds, reverse=True)  # no video variant after an audio-only one
    rest = ordered[1:] if ordered[0].video else ordered
    for group in (True, False):
        rates = [v.bandwidth for v in rest if v.video is group]
        assert rates == sorted(rates)
    if any(kinds):
        first = ordered[0]
        modest = [v.bandwidth for v in ladder if v.video and v.bandwidth <= START_BITRATE]
        assert first.bandwidth == (max(modest) if modest else
                                   min(v.bandwidth for v in ladder if v.video))
