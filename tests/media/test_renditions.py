"""Alternate audio and subtitle renditions in the master playlist (RFC 8216 §4.3.4.1)."""

from __future__ import annotations

from hlsd.config.model import Pathway, Rendition
from hlsd.media.ladder import Ladder, RungMedia
from tests.hlscheck import parse_attributes

RENDITIONS = {"aud_en": Rendition("audio", "en", "English", default=True),
              "aud_es": Rendition("audio", "es", "Español"),
              "sub_en": Rendition("subtitles", "en", "English", default=True)}


def ladder(with_audio_variant: bool = False) -> Ladder:
    """720p (2 Mbit/s) and 360p (0.6) without audio, two audio renditions (128k and 96k
    peak), English subtitles; optionally a 64k audio-only variant."""
    ladder = Ladder("live", 6)
    rungs = ["720p", "360p", "aud_en", "aud_es", "sub_en"] + (
        ["audio"] if with_audio_variant else [])
    ladder.set_rungs(dict.fromkeys(rungs), renditions=RENDITIONS)
    for name, media, rate in [
            ("720p", RungMedia("avc1.64001f", (1280, 720), 25.0), 2_000_000),
            ("360p", RungMedia("avc1.64001e", (640, 360), 25.0), 600_000),
            ("aud_en", RungMedia("mp4a.40.2", channels=2), 128_000),
            ("aud_es", RungMedia("mp4a.40.2", channels=2), 96_000),
            ("sub_en", RungMedia(""), 800),
            ("audio", RungMedia("mp4a.40.2", channels=2), 64_000)]:
        if name in rungs:
            ladder.describe(name, media)
            ladder.rungs[name].add(rate // 8 * 4, 4.0)
    return ladder


def tags(text: str, name: str) -> list[dict[str, str]]:
    return [parse_attributes(line.partition(":")[2]) for line in text.splitlines()
            if line.startswith(name + ":")]


def test_renditions_are_listed_once_and_named_by_every_video_variant() -> None:
    master = ladder().master_text() or ""
    media = tags(master, "#EXT-X-MEDIA")
    assert [(m["TYPE"], m["GROUP-ID"], m["LANGUAGE"], m["NAME"], m["DEFAULT"], m["URI"])
            for m in media] == [
        ("AUDIO", "aud", "en", "English", "YES", "live_aud_en.m3u8"),
        ("AUDIO", "aud", "es", "Español", "NO", "live_aud_es.m3u8"),
        ("SUBTITLES", "sub", "en", "English", "YES", "live_sub_en.m3u8")]
    assert all(m["AUTOSELECT"] == "YES" for m in media)
    assert [m.get("CHANNELS") for m in media] == ["2", "2", None]
    variants = tags(master, "#EXT-X-STREAM-INF")
    # no rendition listed as a variant; 720p + audio is above 2 Mbit/s: 360p starts
    assert [v["RESOLUTION"] for v in variants] == ["640x360", "1280x720"]
    for v, video in zip(variants, (600_000, 2_000_000), strict=True):
        assert v["AUDIO"] == "aud" and v["SUBTITLES"] == "sub"
        assert v["CODECS"].split(",")[1:] == ["mp4a.40.2"]
        assert int(v["BANDWIDTH"]) == video + 128_000  # the largest rendition's added
        assert int(v["AVERAGE-BANDWIDTH"]) == video + 128_000
    assert "live_aud_en.m3u8\n" not in master  # no variant of its own


def test_an_audio_only_variant_keeps_its_own_audio() -> None:
    variants = tags(ladder(with_audio_variant=True).master_text() or "", "#EXT-X-STREAM-INF")
    audio = variants[-1]
    assert audio["CODECS"] == "mp4a.40.2" and int(audio["BANDWIDTH"]) == 64_000
    assert "AUDIO" not in audio and audio["SUBTITLES"] == "sub"


def test_each_pathway_has_its_own_groups() -> None:
    steered = ladder()
    steered.set_pathways([Pathway("a", "https://a/"), Pathway("b", "https://b/")])
    master = steered.master_text() or ""
    media = tags(master, "#EXT-X-MEDIA")
    assert [(m["GROUP-ID"], m["URI"]) for m in media if m["LANGUAGE"] == "es"] == [
        ("aud-a", "https://a/live_aud_es.m3u8"), ("aud-b", "https://b/live_aud_es.m3u8")]
    for v in tags(master, "#EXT-X-STREAM-INF"):
        assert v["AUDIO"] == f"aud-{v['PATHWAY-ID']}" and v["SUBTITLES"].endswith(
            v["PATHWAY-ID"])
