"""Secrets in the config, and redaction of secrets from any text hlsd prints.

Imports nothing from hlsd: the config model, the logs and the encoders' stderr all use it.
"""

from __future__ import annotations

import re

__all__ = ["SECRET_KEYS", "Secret", "redact_text"]

# Keys whose values are secrets wherever they appear (config sections, log fields).
SECRET_KEYS = frozenset({"password", "aws_api_key", "aws_api_secret", "secret", "passphrase",
                         "key_seed"})
# rtmp://user:pass@host, ftp://user:pass@host, ... as they may appear in ffmpeg's stderr
URL_PASSWORD = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://[^/\s:@]*):[^@\s/]*@", re.I)


# srt://host:9000?passphrase=..., ?password=..., &key=... (SRT, RTSP, HLS key options)
QUERY_SECRET = re.compile(r"(?P<name>[?&](?:passphrase|password|passwd|pass|pwd|secret|key|"
                          r"token|streamid)=)[^&\s\"']*", re.I)


# rtmp://host/app/STREAM_KEY: the key is what lets anyone publish
RTMP_KEY = re.compile(r"(?P<app>rtmps?://[^/\s]+/[^/\s?]+/)[^\s?&\"']+", re.I)


def redact_text(text: str) -> str:
    """`text` with passwords inside URLs (user:pass@, secret query parameters, an RTMP
    stream key) replaced by ***."""
    text = URL_PASSWORD.sub(r"\g<scheme>:***@", text)
    return RTMP_KEY.sub(r"\g<app>***", QUERY_SECRET.sub(r"\g<name>***", text))


class Secret:
    """A password or key: prints as *** everywhere; `reveal()` only where it is used."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)
