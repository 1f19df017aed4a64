"""Apple's HLS Authoring Specification for Apple Devices, checked on what hlsd publishes.

The real daemon streams a live ladder (two H.264 rungs and an audio-only rung, 2 s
segments, a window of 6) to a copy destination served by its HTTP origin. Once every
variant lists six segments, the files (and, for the delivery rules, the origin's answers)
are checked rule by rule. Rule numbers are those of the specification's current revision
(developer.apple.com, "HTTP Live Streaming (HLS) authoring specification for Apple
devices"); each check says what it takes from the rule.

Checked here: 1.28, 1.29, 1.32, 4.4, 6.1, 7.4, 7.7, 8.1, 8.2, 8.4,
8.11, 8.17, 8.22, 8.24, 9.1, 9.2, 9.9, 9.11, 9.12, 9.14, 9.15, 10.1, 10.4.
Not checked here: 7.5/7.6 (target and segment durations SHOULD be 6 s: the operator's
`segment_length`, 2 s in this test to keep it short) and 8.12 (SHOULD list 15 minutes:
the operator's `index_segment_count`).
"""

from __future__ import annotations

import itertools
import json
import math
import shutil
import subprocess
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest

from tests.daemon_util import FAST_X264, read, running, wait_for, write_config
from tests.hlscheck import MediaText, check_master, parse_media_text
from tests.serve.test_playback import origin_url

pytestmark = pytest.mark.e2e

SEGMENT_LENGTH = 2
FRAME = 1 / 25
AUDIO_PES = 0.4  # seconds of AAC in one PES packet of ffmpeg's mpegts muxer, at most
SOURCE = ("ffmpeg -re -f lavfi -i testsrc2=size=320x180:rate=25 "
          "-re -f lavfi -i sine=frequency=440:sample_rate=48000")
LADDER = {
    "ep_180p": f"{SOURCE} {FAST_X264} -b:v 300k -maxrate 300k -bufsize 300k "
               "-c:a aac -b:a 64k -f mpegts -",
    "ep_90p": f"{SOURCE} -s 160x90 {FAST_X264} -b:v 100k -maxrate 100k -bufsize 100k "
              "-c:a aac -b:a 48k -f mpegts -",
    "ep_audio": f"{SOURCE} -vn -c:a aac -b:a 64k -f mpegts -",
}


@dataclass
class Variant:
    attrs: dict[str, str]  # the EXT-X-STREAM-INF attributes, plus "URI"
    text: str
    playlist: MediaText
    files: dict[int, Path]  # media sequence number -> a copy of the segment

    @property
    def video(self) -> bool:
        return "RESOLUTION" in self.attrs


@dataclass
class Stream:
    master: str
    variants: list[Variant]  # in the master's order
    url: str  # the origin

    def get(self, name: str, **headers: str) -> tuple[dict[str, str], bytes]:
        request = urllib.request.Request(self.url + name, headers=headers)
        with urllib.request.urlopen(request, timeout=10) as r:
            return dict(r.headers.items()), r.read()


@pytest.fixture(scope="module")
def stream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stream]:
    tmp = tmp_path_factory.mktemp("conformance")
    www = tmp / "www"
    config = write_config(
        tmp / "ladder.yaml", temp_dir=str(tmp / "work"), input_location="lavfi", live=True,
        segment_length=SEGMENT_LENGTH, index_segment_count=6, encoding_profile=list(LADDER),
        transfer_profile="www", www={"transfer_type": "copy", "directory": str(www)},
        http={"listen": "127.0.0.1", "port": 0},
        **{name: {"ffmpeg_command": command} for name, command in LADDER.items()})
    log = tmp / "hlsd.log"
    with running(config, log) as daemon:
        url = wait_for(lambda: origin_url(log), 30, "the origin's URL")
        for name in LADDER:
            wait_for(lambda n=name: (read(www / f"live_{n}.m3u8") or "").count("#EXTINF") >= 6,
                     60, f"six segments in live_{name}.m3u8")
        assert daemon.poll() is None, read(log)
        master = read(www / "live.m3u8") or ""
        variants = []
        for attrs in check_master(master, lambda u: (www / u).is_file()):
            text = read(www / attrs["URI"]) or ""
            playlist = parse_media_text(text, attrs["URI"])
            # Copied at once: a segment leaving the window is deleted after its grace time.
            files = {}
            for segment in playlist.segments:
                files[segment.msn] = tmp / "copies" / segment.uri
                files[segment.msn].parent.mkdir(exist_ok=True)
                shutil.copyfile(www / segment.uri, files[segment.msn])
            variants.append(Variant(attrs, text, playlist, files))
        yield Stream(master, variants, url)
        assert daemon.poll() is None, read(log)


def probe(path: Path, entries: str, stream: str = "v:0", first: bool = False
          ) -> list[dict[str, str]]:
    argv = ["ffprobe", "-v", "error", "-select_streams", stream, "-show_entries", entries,
            "-of", "json", str(path)]
    if first:
        argv[1:1] = ["-read_intervals", "%+#1"]
    out = json.loads(subprocess.run(argv, capture_output=True, text=True, check=True).stdout)
    return list(out.get("frames") or out.get("packets") or [])


def probe_streams(path: Path, entries: str, stream: str = "v:0") -> list[dict[str, str]]:
    argv = ["ffprobe", "-v", "error", "-select_streams", stream, "-show_entries", entries,
            "-of", "json", str(path)]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    return list(json.loads(out).get("streams") or [])


def first_video_pts(path: Path, stream: str = "v:0") -> float:
    return min(float(p["pts_time"]) for p in probe(path, "packet=pts_time", stream)
               if p.get("pts_time") not in (None, "N/A"))


def first_audio_pts(path: Path) -> float:
    return first_video_pts(path, "a:0")


def rates(v: Variant) -> list[float]:
    """Each listed segment's bit rate: its size over its EXTINF."""
    return [v.files[s.msn].stat().st_size * 8 / s.duration for s in v.playlist.segments]


# --- the rules --------------------------------------------------------------------------


def rule_1_28(s: Stream) -> None:
    """Live: the average segment bit rate MUST be < 110 % of AVERAGE-BANDWIDTH (measured
    over the listed window, not the hour the rule speaks of)."""
    for v in s.variants:
        size = sum(v.files[seg.msn].stat().st_size for seg in v.playlist.segments)
        average = size * 8 / v.playlist.duration
        assert average < 1.10 * int(v.attrs["AVERAGE-BANDWIDTH"]), (v.attrs, average)


def rule_1_29(s: Stream) -> None:
    """Live: the measured peak (segment) bit rate MUST be < 125 % of BANDWIDTH."""
    for v in s.variants:
        assert max(rates(v)) < 1.25 * int(v.attrs["BANDWIDTH"]), (v.attrs, rates(v))


def rule_1_32(s: Stream) -> None:
    """The default (first listed) variant SHOULD be the ~2000 kbit/s video one: hlsd lists
    first the video variant with the highest AVERAGE-BANDWIDTH not above 2 Mbit/s (else
    the lowest), then the other video variants up, audio-only variants last."""
    video = [v for v in s.variants if v.video]
    modest = [v for v in video if int(v.attrs["AVERAGE-BANDWIDTH"]) <= 2_000_000]
    start = (max(modest, key=lambda v: int(v.attrs["AVERAGE-BANDWIDTH"])) if modest
             else min(video, key=lambda v: int(v.attrs["BANDWIDTH"])))
    assert s.variants[0] is start, s.master
    kinds = [v.video for v in s.variants]
    assert kinds == sorted(kinds, reverse=True), s.master


def rule_4_4(s: Stream) -> None:
    """Closed captions MUST be declared as the video carries them. This source carries
    none (ffprobe finds no closed captions in any video segment), so every variant,
    audio-only ones too, says CLOSED-CAPTIONS=NONE, the enumerated value, not a quoted
    group name (RFC 8216 §4.3.4.2: NONE on one variant means NONE on all), and no
    CLOSED-CAPTIONS rendition is listed: players do not wait for captions that never
    come. (A captioned source is not streamed here.)"""
    for v in s.variants:
        for msn, path in v.files.items() if v.video else ():
            streams = probe_streams(path, "stream=closed_captions")
            assert [int(x["closed_captions"]) for x in streams] == [0], (msn, streams)
    lines = [line for line in s.master.splitlines() if line.startswith("#EXT-X-STREAM-INF:")]
    assert len(lines) == len(s.variants), s.master
    for line in lines:
        assert "CLOSED-CAPTIONS=NONE" in line.split(":", 1)[1].split(","), line
    assert "TYPE=CLOSED-CAPTIONS" not in s.master, s.master


def rule_6_1(s: Stream) -> None:
    """I-frame playlists (EXT-X-I-FRAME-STREAM-INF) MUST be provided: one per video
    variant, each naming an I-frame-only playlist that is there."""
    lines = [line for line in s.master.splitlines()
             if line.startswith("#EXT-X-I-FRAME-STREAM-INF:")]
    assert len(lines) == sum(v.video for v in s.variants), s.master
    for line in lines:
        uri = line.split('URI="')[1].split('"')[0]
        _, body = s.get(uri)
        assert "#EXT-X-I-FRAMES-ONLY" in body.decode(), uri


def rule_7_4(s: Stream) -> None:
    """Video segments MUST start with an IDR frame: each listed segment's first decoded
    frame is an I frame marked as a key frame."""
    for v in s.variants:
        for msn, path in v.files.items() if v.video else ():
            frame = probe(path, "frame=pict_type,key_frame", first=True)[0]
            assert (frame["pict_type"], int(frame["key_frame"])) == ("I", 1), (msn, frame)


def rule_7_7(s: Stream) -> None:
    """Segments MUST NOT exceed the target duration by more than 0.5 s; and (RFC 8216
    §4.3.3.1) every EXTINF, rounded, is at most EXT-X-TARGETDURATION."""
    for v in s.variants:
        for seg in v.playlist.segments:
            assert seg.duration <= v.playlist.target + 0.5, (v.attrs["URI"], seg)
            assert math.floor(seg.duration + 0.5) <= v.playlist.target, (v.attrs["URI"], seg)


def rule_8_1(s: Stream) -> None:
    """EXTINF durations MUST be accurate to a video frame: from each video segment to the
    next, the first video timestamps move by its EXTINF, within one frame."""
    for v in s.variants:
        segments = v.playlist.segments if v.video else []
        for seg, nxt in itertools.pairwise(segments):
            moved = first_video_pts(v.files[nxt.msn]) - first_video_pts(v.files[seg.msn])
            assert abs(moved - seg.duration) <= FRAME + 1e-3, (v.attrs["URI"], seg, moved)


def rule_8_2(s: Stream) -> None:
    """Every media playlist MUST have the same target duration (here: the configured
    segment length, rounded up)."""
    assert {v.playlist.target for v in s.variants} == {math.ceil(SEGMENT_LENGTH)}


def rule_8_4(s: Stream) -> None:
    """EXT-X-PROGRAM-DATE-TIME MUST be present in every live media playlist (hlsd dates
    every segment)."""
    for v in s.variants:
        assert not v.playlist.ended and v.playlist.kind is None, v.text
        assert v.text.count("#EXT-X-PROGRAM-DATE-TIME:") == len(v.playlist.segments), v.text


def rule_8_11(s: Stream) -> None:
    """A live playlist MUST list at least six segments."""
    for v in s.variants:
        assert len(v.playlist.segments) >= 6, v.text


def rule_8_17(s: Stream) -> None:
    """Live content that may ever carry EXT-X-DISCONTINUITY (an encoder restart does)
    MUST always have EXT-X-DISCONTINUITY-SEQUENCE."""
    for v in s.variants:
        assert "#EXT-X-DISCONTINUITY-SEQUENCE:" in v.text, v.text


def rule_8_22(s: Stream) -> None:
    """Variants SHOULD have segment boundaries at the same times: the same sequence
    numbers on every rung; a segment starts at the same video timestamp (within a frame)
    on every video rung, and on an audio-only rung within one audio PES of it (it can
    only be cut between PES packets: ffmpeg's are ~0.34 s of AAC by default)."""
    common = sorted(set.intersection(*(set(v.files) for v in s.variants)))
    assert len(common) >= 5, [sorted(v.files) for v in s.variants]
    reference = next(v for v in s.variants if v.video)
    for msn in common:
        start = first_video_pts(reference.files[msn])
        for v in s.variants:
            if v.video:
                assert abs(first_video_pts(v.files[msn]) - start) <= FRAME + 1e-3, (v, msn)
            else:
                assert abs(first_audio_pts(v.files[msn]) - start) <= AUDIO_PES, (v, msn)


def rule_8_24(s: Stream) -> None:
    """A live playlist update is stale when its Last-Modified is more than three target
    durations before its Date: the origin's are not."""
    for v in s.variants:
        headers, _ = s.get(v.attrs["URI"])
        age = (parsedate_to_datetime(headers["Date"]) -
               parsedate_to_datetime(headers["Last-Modified"])).total_seconds()
        assert 0 <= age <= 3 * v.playlist.target, (v.attrs["URI"], headers)


def each_variant(name: str, video_only: bool = False) -> Callable[[Stream], None]:
    def check(s: Stream) -> None:
        for v in s.variants:
            if v.video or not video_only:
                assert v.attrs.get(name), (name, v.attrs)
    return check


def rule_9_9(s: Stream) -> None:
    """Multiple bit rates of video MUST be provided."""
    assert len({v.attrs["BANDWIDTH"] for v in s.variants if v.video}) >= 2, s.master


def rule_9_11(s: Stream) -> None:
    """Segments starting with an IDR SHOULD be said so with EXT-X-INDEPENDENT-SEGMENTS in
    the multivariant playlist (9.12: or else in every video media playlist): both."""
    assert "#EXT-X-INDEPENDENT-SEGMENTS" in s.master.splitlines(), s.master
    for v in s.variants:
        assert "#EXT-X-INDEPENDENT-SEGMENTS" in v.text.splitlines(), v.text


def rule_10_1(s: Stream) -> None:
    """The server MUST deliver playlists using gzip content-encoding."""
    for name in ["live.m3u8", *(v.attrs["URI"] for v in s.variants)]:
        headers, body = s.get(name, **{"Accept-Encoding": "gzip"})
        assert headers.get("Content-Encoding") == "gzip", (name, headers)
        assert body[:2] == b"\x1f\x8b", name


def rule_10_4(s: Stream) -> None:
    """Recommended MIME types: application/vnd.apple.mpegurl for playlists, video/mp2t
    for transport stream segments (audio-only ones too)."""
    assert s.get("live.m3u8")[0]["Content-Type"] == "application/vnd.apple.mpegurl"
    for v in s.variants:
        newest = v.playlist.segments[-1].uri
        assert s.get(newest)[0]["Content-Type"] == "video/mp2t", newest


RULES = [
    pytest.param(rule_1_28, id="1.28 live average bit rate under 110pc of AVERAGE-BANDWIDTH"),
    pytest.param(rule_1_29, id="1.29 live peak bit rate under 125pc of BANDWIDTH"),
    pytest.param(rule_1_32, id="1.32 the first variant is the default video one, audio last"),
    pytest.param(rule_4_4, id="4.4 closed captions signalled (CLOSED-CAPTIONS)"),
    pytest.param(rule_6_1, id="6.1 I-frame playlists"),
    pytest.param(rule_7_4, id="7.4 video segments start with an IDR"),
    pytest.param(rule_7_7, id="7.7 segments within target duration plus 0.5 s"),
    pytest.param(rule_8_1, id="8.1 EXTINF accurate to a frame"),
    pytest.param(rule_8_2, id="8.2 one target duration for every media playlist"),
    pytest.param(rule_8_4, id="8.4 EXT-X-PROGRAM-DATE-TIME in live playlists"),
    pytest.param(rule_8_11, id="8.11 at least six segments in a live playlist"),
    pytest.param(rule_8_17, id="8.17 EXT-X-DISCONTINUITY-SEQUENCE always present"),
    pytest.param(rule_8_22, id="8.22 segment boundaries aligned across variants"),
    pytest.param(rule_8_24, id="8.24 Last-Modified within three target durations of Date"),
    pytest.param(each_variant("CODECS"), id="9.1 CODECS on every variant"),
    pytest.param(each_variant("RESOLUTION", video_only=True),
                 id="9.2 RESOLUTION on every video variant"),
    pytest.param(rule_9_9, id="9.9 multiple video bit rates"),
    pytest.param(rule_9_11, id="9.11 9.12 EXT-X-INDEPENDENT-SEGMENTS"),
    pytest.param(each_variant("AVERAGE-BANDWIDTH"), id="9.14 AVERAGE-BANDWIDTH on every variant"),
    pytest.param(each_variant("FRAME-RATE", video_only=True),
                 id="9.15 FRAME-RATE on every video variant"),
    pytest.param(rule_10_1, id="10.1 playlists delivered gzip-encoded"),
    pytest.param(rule_10_4, id="10.4 recommended MIME types"),
]


@pytest.mark.parametrize("check", RULES)
def test_apple_authoring_rule(stream: Stream, check: Callable[[Stream], None]) -> None:
    """One rule of the specification (the test id names it), on the published stream."""
    check(stream)
