"""Alternate renditions (RFC 8216 §4.3.4.1 EXT-X-MEDIA): audio tracks and subtitles listed
apart from the variants, each with a media playlist of its own. Pure.

One group per type (GROUP-ID "aud", "sub"); every rendition AUTOSELECT=YES so players pick
by the viewer's language, exactly one DEFAULT=YES per group (the config makes it so).
With content steering each pathway has its own groups (§4.4.6.2: a variant on a pathway
SHOULD use rendition groups on that pathway), named "<group>-<pathway>".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from hlsd.media.playlist import PlaylistError, has_control
from hlsd.media.steering import DIRECT, STABLE_ID, Route

AUDIO_GROUP = "aud"
SUBTITLES_GROUP = "sub"
GROUPS = {"AUDIO": AUDIO_GROUP, "SUBTITLES": SUBTITLES_GROUP}


def group_on(group: str, route: Route = DIRECT[0]) -> str:
    """A rendition group's GROUP-ID on `route`."""
    return group if route.pathway is None else f"{group}-{route.pathway}"


@dataclass(frozen=True)
class AlternateMedia:
    """One #EXT-X-MEDIA with a URI: an audio or subtitle rendition."""

    type: Literal["AUDIO", "SUBTITLES"]
    uri: str  # its media playlist
    language: str  # RFC 5646
    name: str
    default: bool
    codecs: str | None = None  # RFC 6381, what the variants naming the group add to CODECS
    channels: int | None = None  # audio: CHANNELS
    bandwidth: int = 0  # peak bits/s: variants naming the group add the largest one's
    average_bandwidth: int | None = None

    def __post_init__(self) -> None:
        for text in (self.uri, self.language, self.name):
            if not text or has_control(text) or '"' in text:
                raise PlaylistError(f"rendition {self.uri!r}: {text!r} is empty or has a "
                                    "quote or control characters")

    @property
    def group(self) -> str:
        return GROUPS[self.type]

    def render(self, route: Route = DIRECT[0]) -> str:
        attrs = [f"TYPE={self.type}", f'GROUP-ID="{group_on(self.group, route)}"',
                 f'LANGUAGE="{self.language}"', f'NAME="{self.name}"',
                 f"DEFAULT={'YES' if self.default else 'NO'}", "AUTOSELECT=YES"]
        if self.channels is not None:
            attrs.append(f'CHANNELS="{self.channels}"')
        attrs.append(f'URI="{route.uri(self.uri)}"')
        if route.pathway is not None and STABLE_ID.fullmatch(self.uri):
            attrs.append(f'STABLE-RENDITION-ID="{self.uri}"')
        return "#EXT-X-MEDIA:" + ",".join(attrs)
