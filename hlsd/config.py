"""The configuration: the frozen, typed model, and `load(path)` / `parse(raw)` to get one.

Key names are the original tool's (temp_dir, segment_prefix, ffmpeg_command, ...);
profiles are top-level named sections. The validation behind `load` and `parse` lives
in hlsd.configload (top level) and hlsd.configtransfer (transfer profiles); a mistake
becomes a ConfigError carrying one Problem per mistake, each with its key path.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "Config", "ConfigError", "CopyProfile", "EncodingProfile", "FtpProfile", "HttpSettings",
    "Problem", "S3Profile", "Secret", "SshProfile", "TransferProfile", "load", "parse",
]

DEFAULT_HLS_JS = "https://cdn.jsdelivr.net/npm/hls.js@1/dist/hls.min.js"


def load(path: str | Path) -> Config:
    """Read and validate a config file; raises ConfigError (never a traceback for bad input)."""
    from hlsd import configload  # imported here: the loader builds this module's classes

    return configload.load(path)


def parse(raw: Any, source_path: Path | None = None, base_dir: Path | None = None) -> Config:
    """Validate a loaded YAML document; raises ConfigError listing every problem."""
    from hlsd import configload

    return configload.parse(raw, source_path, base_dir)


@dataclass(frozen=True)
class Problem:
    path: str  # key path, e.g. "ep_720p.ffmpeg_command"; "" for the whole file
    what: str
    allowed: str

    def __str__(self) -> str:
        where = self.path or "(file)"
        return f"{where}: {self.what}; allowed: {self.allowed}"


class ConfigError(Exception):
    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


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


@dataclass(frozen=True)
class EncodingProfile:
    name: str
    ffmpeg_command: str  # legacy `| %s %s %s %s %s` tail already removed
    bandwidth: int | None = None


@dataclass(frozen=True)
class CopyProfile:
    name: str
    directory: Path
    transfer_type: Literal["copy"] = "copy"
    concurrency: int = 4


@dataclass(frozen=True)
class FtpProfile:
    name: str
    remote_host: str
    user_name: str
    password: Secret
    directory: str = "/"
    port: int = 21
    passive: bool = True
    tls: bool = False
    tls_ca_file: Path | None = None  # CA bundle (PEM) the server's certificate chains to
    transfer_type: Literal["ftp"] = "ftp"
    concurrency: int = 2


@dataclass(frozen=True)
class SshProfile:
    name: str
    transfer_type: Literal["scp", "sftp"]
    remote_host: str
    user_name: str
    directory: str = "."
    password: Secret | None = None
    port: int = 22
    key_file: Path | None = None
    known_hosts: Path | None = None  # default: the user's ~/.ssh/known_hosts
    host_key: str | None = None  # pinned public key ("ssh-ed25519 AAAA...")
    insecure_skip_host_key_check: bool = False
    concurrency: int = 4


@dataclass(frozen=True)
class S3Profile:
    name: str
    bucket_name: str
    key_prefix: str = ""
    aws_api_key: Secret | None = None
    aws_api_secret: Secret | None = None
    region: str | None = None
    endpoint_url: str | None = None
    addressing_style: Literal["auto", "path", "virtual"] = "auto"
    acl: str | None = None
    playlist_cache_control: str = "max-age=1"
    segment_cache_control: str = "max-age=31536000, immutable"
    transfer_type: Literal["s3"] = "s3"
    concurrency: int = 8


TransferProfile = CopyProfile | FtpProfile | SshProfile | S3Profile


@dataclass(frozen=True)
class HttpSettings:
    listen: str = "127.0.0.1"
    port: int = 8080
    serve: str | None = None  # copy profile whose directory is served; default: the first
    hls_js_url: str = DEFAULT_HLS_JS


@dataclass(frozen=True)
class Config:
    temp_dir: Path
    input_location: str
    encoding_profiles: tuple[EncodingProfile, ...]
    transfer_profiles: tuple[TransferProfile, ...]
    segment_prefix: str = "live"
    index_prefix: str = "live"
    log_type: Literal["STDOUT", "FILE"] = "STDOUT"
    log_file: Path | None = None
    log_level: Literal["DEBUG", "INFO", "WARN", "ERROR"] = "INFO"
    source_command: str | None = None
    segment_length: float = 4.0
    url_prefix: str = ""
    index_segment_count: int = 6
    segmenter_binary: str = "hlsd-segmenter"
    live: bool | None = None  # None: guessed from input_location
    target_duration: int | None = None  # None: derived (see effective_target_duration)
    encoder_mode: Literal["auto", "per_rung", "shared"] = "auto"
    http: HttpSettings | None = None
    source_path: Path | None = field(default=None, compare=False)
    warnings: tuple[str, ...] = field(default=(), compare=False)

    @property
    def is_live(self) -> bool:
        if self.live is not None:
            return self.live
        return not (self.input_location != "-" and Path(self.input_location).is_file())

    @property
    def effective_target_duration(self) -> int:
        """EXT-X-TARGETDURATION: fixed for the life of every playlist."""
        if self.target_duration is not None:
            return self.target_duration
        return max(1, math.ceil(self.segment_length - 1e-9))

    @property
    def max_segment_duration(self) -> float:
        """--max-duration for the segmenter: keeps round(EXTINF) <= target duration."""
        return self.effective_target_duration + 0.49

    @property
    def effective_encoder_mode(self) -> Literal["per_rung", "shared"]:
        """`auto`: shared decoding whenever the rungs read the same input (bench/ladder.py:
        ~30 % less CPU), else one encoder per rung."""
        if self.encoder_mode != "auto":
            return self.encoder_mode
        from hlsd.ffmpeg import shared_problems

        commands = {p.name: p.ffmpeg_command for p in self.encoding_profiles}
        if len(commands) > 1 and not shared_problems(commands):
            return "shared"
        return "per_rung"

    def profile(self, name: str) -> EncodingProfile:
        return next(p for p in self.encoding_profiles if p.name == name)
