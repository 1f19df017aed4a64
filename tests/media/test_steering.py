"""Content steering in the master (hlsd.media.steering, RFC 8216bis §4.4.6.6 and §7): every
variant and I-frame stream once per pathway, PATHWAY-ID and prefixes, the steering tag, the
manifest, and nothing changed without pathways."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hlsd.config.model import Pathway
from hlsd.media.ladder import Ladder, RungMedia
from hlsd.media.master import IFrameVariant, Variant, render_master
from hlsd.media.parse import parse_attributes
from hlsd.media.playlist import VERSION, PlaylistError
from hlsd.media.steering import STEERING_TTL, Steering
from tests.hlscheck import check_master

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
A = Pathway("a", "https://a.example.com/live/")
B = Pathway("b", "https://b.example.com/live/")


def variants() -> list[Variant]:
    return [
        Variant("live_hi.m3u8", 3_300_000, 3_000_000, "avc1.64001f,mp4a.40.2", (1280, 720),
                25.0),
        Variant("live_audio.m3u8", 140_000, 128_000, "mp4a.40.2"),
        Variant("live_low.m3u8", 900_000, 800_000, "avc1.4d401e,mp4a.40.2", (640, 360), 25.0),
    ]


def iframes() -> list[IFrameVariant]:
    return [IFrameVariant("live_hi_iframes.m3u8", 200_000, 150_000, "avc1.64001f",
                          (1280, 720)),
            IFrameVariant("live_low_iframes.m3u8", 90_000, 60_000, "avc1.4d401e", (640, 360))]


def streams(text: str) -> list[tuple[dict[str, str], str]]:
    """(attributes, URI) of each EXT-X-STREAM-INF, in order."""
    lines = text.splitlines()
    return [(parse_attributes(line.partition(":")[2]), lines[i + 1])
            for i, line in enumerate(lines) if line.startswith("#EXT-X-STREAM-INF:")]


def iframe_streams(text: str) -> list[dict[str, str]]:
    return [parse_attributes(line.partition(":")[2]) for line in text.splitlines()
            if line.startswith("#EXT-X-I-FRAME-STREAM-INF:")]


def steered(*pathways: Pathway) -> str:
    return render_master(variants(), iframes=iframes(),
                         steering=Steering(pathways, "live-steering.json"))


def test_every_variant_once_per_pathway_in_playback_order_with_prefix_and_id() -> None:
    """1. two pathways: six variants, a's three then b's three
    2. each pathway in playback order (video nearest 2 Mbit/s first, audio last)
    3. URIs are the pathway's prefix + the variant's name; PATHWAY-ID names the pathway
    4. STABLE-VARIANT-ID is the variant's own name: the same on both pathways
    5. the other attributes are those of the master without pathways"""
    text = steered(A, B)
    listed = streams(text)
    assert [uri for _, uri in listed] == [
        "https://a.example.com/live/live_low.m3u8", "https://a.example.com/live/live_hi.m3u8",
        "https://a.example.com/live/live_audio.m3u8",
        "https://b.example.com/live/live_low.m3u8", "https://b.example.com/live/live_hi.m3u8",
        "https://b.example.com/live/live_audio.m3u8"]
    assert [a["PATHWAY-ID"] for a, _ in listed] == ["a"] * 3 + ["b"] * 3
    assert [a["STABLE-VARIANT-ID"] for a, _ in listed[:3]] == \
        [a["STABLE-VARIANT-ID"] for a, _ in listed[3:]] == \
        ["live_low.m3u8", "live_hi.m3u8", "live_audio.m3u8"]
    plain = streams(render_master(variants()))
    for (attrs, _), (base, _) in zip(listed, plain * 2, strict=True):
        extra = {k: v for k, v in attrs.items() if k not in ("PATHWAY-ID", "STABLE-VARIANT-ID")}
        assert extra == base
    check_master(text, lambda uri: uri.startswith(("https://a.example.com/live/live_",
                                                   "https://b.example.com/live/live_")))


def test_iframe_streams_once_per_pathway_with_prefixed_uri() -> None:
    found = iframe_streams(steered(A, B))
    assert [(i["URI"], i["PATHWAY-ID"]) for i in found] == [
        ("https://a.example.com/live/live_hi_iframes.m3u8", "a"),
        ("https://a.example.com/live/live_low_iframes.m3u8", "a"),
        ("https://b.example.com/live/live_hi_iframes.m3u8", "b"),
        ("https://b.example.com/live/live_low_iframes.m3u8", "b")]
    assert found[0]["STABLE-VARIANT-ID"] == found[2]["STABLE-VARIANT-ID"] == \
        "live_hi_iframes.m3u8"


def test_steering_tag_names_the_manifest_and_the_first_pathway_version_unchanged() -> None:
    text = steered(B, A)
    lines = text.splitlines()
    assert lines[:4] == ["#EXTM3U", f"#EXT-X-VERSION:{VERSION}", "#EXT-X-INDEPENDENT-SEGMENTS",
                         '#EXT-X-CONTENT-STEERING:SERVER-URI="live-steering.json",'
                         'PATHWAY-ID="b"']
    assert sum(line.startswith("#EXT-X-CONTENT-STEERING") for line in lines) == 1
    assert streams(text)[0][1].startswith("https://b.example.com/")  # priority order


def test_path_prefixes_are_allowed_too() -> None:
    text = steered(Pathway("east", "/east/live/"), Pathway("west", "../west/"))
    assert [uri for _, uri in streams(text)][::3] == ["/east/live/live_low.m3u8",
                                                     "../west/live_low.m3u8"]


def test_one_closed_captions_group_serves_every_pathway() -> None:
    """The 608 rendition has no URI (it is inside the video): one EXT-X-MEDIA, named by
    the captioned variants of every pathway."""
    captioned = [Variant("live_hi.m3u8", 3_000_000, None, "avc1.64001f", (1280, 720),
                         captions=True),
                 Variant("live_low.m3u8", 900_000, None, "avc1.4d401e", (640, 360),
                         captions=True)]
    text = render_master(captioned, steering=Steering((A, B), "live-steering.json"))
    assert sum(line.startswith("#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS")
               for line in text.splitlines()) == 1
    assert all(a["CLOSED-CAPTIONS"] == "cc" for a, _ in streams(text))
    assert len(streams(text)) == 4


def test_the_manifest() -> None:
    manifest = json.loads(Steering((B, A), "live-steering.json").manifest())
    assert manifest == {"VERSION": 1, "TTL": STEERING_TTL, "RELOAD-URI": "live-steering.json",
                        "PATHWAY-PRIORITY": ["b", "a"]}
    assert 0 < STEERING_TTL <= 300  # 300 s is the spec's default: ours reacts faster


@pytest.mark.parametrize("pathways", [(), (A, Pathway("a", "https://c.example/")),
                                      (Pathway("a b", "https://a/"),),
                                      (Pathway("a", 'https://a/"x/'),)])
def test_steering_refuses_what_no_player_could_read(pathways: tuple[Pathway, ...]) -> None:
    with pytest.raises(PlaylistError):
        Steering(pathways, "live-steering.json")


def test_without_pathways_the_golden_master_is_unchanged() -> None:
    text = (GOLDEN / "master.m3u8").read_text()
    golden = [Variant("live_ep_720p.m3u8", 3_300_000, 3_000_000, "avc1.64001f,mp4a.40.2",
                      (1280, 720), 29.97),
              Variant("live_ep_audio.m3u8", 140_000, 128_000, "mp4a.40.2"),
              Variant("live_ep_360p.m3u8", 900_000, 800_000, "avc1.4d401e,mp4a.40.2",
                      (640, 360), 30.0)]
    assert render_master(golden) == text
    assert "PATHWAY-ID" not in render_master(variants(), iframes=iframes())


def measured() -> Ladder:
    ladder = Ladder("live", 6)
    ladder.set_rungs({"hi": None, "low": None})
    for name, size, rate in [("hi", (1280, 720), 3_000_000), ("low", (640, 360), 800_000)]:
        ladder.describe(name, RungMedia("avc1.64001f,mp4a.40.2", size, 25.0))
        ladder.rungs[name].add(rate // 8 * 2, 2.0, rate // 80)
    return ladder


def test_the_ladder_steers_once_pathways_are_set_and_a_reload_changes_them() -> None:
    """1. no pathways: no steering tag, no manifest
    2. pathways a, b: the master steers, the manifest ranks a first
    3. a reload reverses them: the master and the manifest change
    4. a reload removes them: the master as before"""
    ladder = measured()
    plain = ladder.master_text({"hi", "low"})
    assert plain is not None and "CONTENT-STEERING" not in plain
    assert ladder.steering_text() is None
    assert ladder.steering_name == "live-steering.json"
    ladder.set_pathways([A, B])
    first = ladder.master_text({"hi", "low"}) or ""
    assert '#EXT-X-CONTENT-STEERING:SERVER-URI="live-steering.json",PATHWAY-ID="a"' in first
    assert len(streams(first)) == 4 and len(iframe_streams(first)) == 4
    assert json.loads(ladder.steering_text() or "")["PATHWAY-PRIORITY"] == ["a", "b"]
    ladder.set_pathways([B, A])
    assert ladder.master_text({"hi", "low"}) != first
    assert json.loads(ladder.steering_text() or "")["PATHWAY-PRIORITY"] == ["b", "a"]
    ladder.set_pathways([])
    assert ladder.master_text({"hi", "low"}) == plain and ladder.steering_text() is None
