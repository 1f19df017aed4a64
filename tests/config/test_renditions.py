"""`rendition:` on encoding profiles: parsed, one default per type, mistakes explained."""

from __future__ import annotations

from typing import Any

from hlsd import config as cfg
from hlsd.config.model import Rendition
from tests.config.test_loader import base, problems

VIDEO = "ffmpeg -i %s -map 0:v -c:v libx264 -f mpegts -"
AUDIO = "ffmpeg -i %s -map 0:a:{} -vn -c:a aac -f mpegts -"
SUBS = "ffmpeg -i %s -map 0:s:0 -c:s webvtt -f webvtt -"


def ladder(**renditions: dict[str, Any]) -> dict[str, Any]:
    names = ["ep_720p", *renditions]
    raw = base(encoding_profile=names, ep_720p={"ffmpeg_command": VIDEO})
    for i, (name, rendition) in enumerate(renditions.items()):
        command = SUBS if rendition.get("type") == "subtitles" else AUDIO.format(i)
        raw[name] = {"ffmpeg_command": command, "rendition": rendition}
    return raw


def test_renditions_parsed_and_the_first_audio_made_default_not_subtitles() -> None:
    c = cfg.parse(ladder(aud_en={"type": "audio", "language": "en", "name": "English"},
                         aud_es={"type": "audio", "language": "es", "name": "Español"},
                         sub_en={"type": "subtitles", "language": "en"}))
    assert c.renditions == {
        "aud_en": Rendition("audio", "en", "English", default=True),
        "aud_es": Rendition("audio", "es", "Español", default=False),
        "sub_en": Rendition("subtitles", "en", "en", default=False)}
    assert c.profile("ep_720p").rendition is None and not c.warnings


def test_an_explicit_default_stays_the_only_one() -> None:
    c = cfg.parse(ladder(aud_en={"type": "audio", "language": "en"},
                         aud_es={"type": "audio", "language": "es", "default": True}))
    assert [n for n, r in c.renditions.items() if r.default] == ["aud_es"]


def test_mistakes_each_get_their_key_path() -> None:
    found = {p.path: p for p in problems(ladder(
        aud_en={"type": "audio", "language": "en", "default": True},
        aud_es={"type": "audio", "language": "es", "default": True, "name": "en"},
        aud_x={"type": "video", "language": "fr"},
        aud_y={"type": "audio"},
        aud_z={"type": "audio", "language": "not a tag", "nmae": "x"}))}
    assert "all default" in found["aud_es.rendition.default"].what
    assert "already aud_en's" in found["aud_es.rendition.name"].what
    assert "audio | subtitles" in found["aud_x.rendition.type"].allowed
    assert found["aud_y.rendition.language"].what == "is missing"
    assert "RFC 5646" in found["aud_z.rendition.language"].allowed
    assert "did you mean 'name'" in found["aud_z.rendition.nmae"].what


def test_subtitles_write_webvtt_and_audio_mpegts() -> None:
    raw = ladder(sub_en={"type": "subtitles", "language": "en"})
    raw["sub_en"]["ffmpeg_command"] = "ffmpeg -i %s -map 0:s:0 -c:s webvtt -f mpegts -"
    (problem,) = problems(raw)
    assert problem.path == "sub_en.ffmpeg_command" and "-f webvtt" in problem.what


def test_only_renditions_is_a_problem() -> None:
    raw = ladder(aud_en={"type": "audio", "language": "en"})
    raw["encoding_profile"] = ["aud_en"]
    assert [p.path for p in problems(raw)] == ["encoding_profile"]


def test_a_variant_keeping_its_audio_beside_audio_renditions_is_warned() -> None:
    raw = ladder(aud_en={"type": "audio", "language": "en"})
    raw["ep_720p"]["ffmpeg_command"] = "ffmpeg -i %s -c:v libx264 -c:a aac -f mpegts -"
    (warning,) = cfg.parse(raw).warnings
    assert warning.startswith("ep_720p.ffmpeg_command:") and "-an" in warning
    raw["ep_720p"]["ffmpeg_command"] = "ffmpeg -i %s -c:v libx264 -an -f mpegts -"
    assert not cfg.parse(raw).warnings
    # subtitles alone: the variants keep their audio, nothing to warn about
    raw = ladder(sub_en={"type": "subtitles", "language": "en"})
    raw["ep_720p"]["ffmpeg_command"] = "ffmpeg -i %s -c:v libx264 -c:a aac -f mpegts -"
    assert not cfg.parse(raw).warnings


def test_subtitles_stay_out_of_the_shared_encoder() -> None:
    """A subtitles command with its own input options (teletext as text) does not stop the
    others from sharing one ffmpeg: it runs its own."""
    raw = ladder(aud_en={"type": "audio", "language": "en"},
                 sub_en={"type": "subtitles", "language": "en"})
    raw["sub_en"]["ffmpeg_command"] = ("ffmpeg -txt_format text -i %s -map 0:s:0 -c:s webvtt "
                                       "-f webvtt -")
    assert cfg.parse(raw).encoder_mode == "shared"
    assert cfg.parse({**raw, "encoder_mode": "shared"}).encoder_mode == "shared"


def test_start_rung_must_be_a_variant() -> None:
    raw = ladder(aud_en={"type": "audio", "language": "en"})
    raw["start_rung"] = "aud_en"
    (problem,) = problems(raw)
    assert problem.path == "start_rung" and "rendition" in problem.what
