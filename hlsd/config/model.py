"""The configuration model: frozen, typed, every default written here once.

Key names are the original tool's (temp_dir, segment_prefix, ffmpeg_command, ...);
profiles are top-level named sections. The keys a section allows are its dataclass's
fields (`yaml_keys`); derived values (`live`, `target_duration`, `encoder_mode`,
`max_segment_duration`) are resolved by the loader once, so nothing downstream guesses.
Imports nothing from hlsd but its sibling modules without imports of their own.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from hlsd.config.secret import Secret

__all__ = [
    "DEFAULT_HLS_JS",
    "Config",
    "CopyProfile",
    "EncodingProfile",
    "EncryptionSettings",
    "FtpProfile",
    "HttpSettings",
    "InputLossSettings",
    "LowLatencySettings",
    "Pathway",
    "RecordingSettings",
    "Rendition",
    "S3Profile",
    "SshProfile",
    "TransferProfile",
    "yaml_keys",
]

DEFAULT_HLS_JS = "https://cdn.jsdelivr.net/npm/hls.js@1/dist/hls.min.js"
DEFAULT_ADMIN_LISTEN = "127.0.0.1"  # the admin listener's, once http.admin_port is set
DEFAULT_ADMIN_PORT = 9180
PLAYLIST_CACHE_CONTROL = "max-age=1"  # live playlists change every segment
SEGMENT_CACHE_CONTROL = "max-age=31536000, immutable"  # a segment name is never reused
# Added to the target duration for the segmenter's --max-duration: an EXTINF up to
# target + 0.49 still rounds to the target (RFC 8216 §4.3.3.1).
MAX_DURATION_SLACK = 0.49

NOT_A_KEY: dict[str, Any] = {"key": None}  # a field that no YAML key sets


def key(name: str) -> dict[str, Any]:
    """Field metadata: the YAML key that sets this field, where it is named otherwise."""
    return {"key": name}


def yaml_keys(cls: type) -> frozenset[str]:
    """The keys a section of `cls` allows: its fields, as the YAML spells them."""
    names = (f.metadata.get("key", f.name) for f in fields(cls) if f.name != "name")
    return frozenset(n for n in names if n is not None)


@dataclass(frozen=True)
class Rendition:
    """`rendition:` of an encoding profile: listed with #EXT-X-MEDIA (an alternate audio or
    subtitle track every video variant names) instead of as a variant of its own."""

    type: Literal["audio", "subtitles"]
    language: str  # RFC 5646 tag: LANGUAGE
    name: str  # NAME, unique within its type
    default: bool = False  # DEFAULT=YES; the loader makes exactly one per type so


@dataclass(frozen=True)
class EncodingProfile:
    name: str
    ffmpeg_command: str  # legacy `| %s %s %s %s %s` tail already removed
    bandwidth: int | None = None
    rendition: Rendition | None = None  # None: a variant of the ladder


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
    playlist_cache_control: str = PLAYLIST_CACHE_CONTROL
    segment_cache_control: str = SEGMENT_CACHE_CONTROL
    transfer_type: Literal["s3"] = "s3"
    concurrency: int = 8


TransferProfile = CopyProfile | FtpProfile | SshProfile | S3Profile
TRANSFER_TYPES: dict[str, type[TransferProfile]] = {
    "copy": CopyProfile, "ftp": FtpProfile, "scp": SshProfile, "sftp": SshProfile,
    "s3": S3Profile}


@dataclass(frozen=True)
class EncryptionSettings:
    """`encryption:` whole-segment AES-128 (RFC 8216 §4.3.2.4), keys rotated together on
    every rung and published to their own destinations."""

    key_transfer_profiles: tuple[TransferProfile, ...] = field(
        default=(), metadata=key("key_transfer_profile"))
    method: Literal["AES-128"] = "AES-128"
    key_rotation: int = 0  # segments per key; 0: one key for the stream's life
    key_url_prefix: str = ""  # what #EXT-X-KEY URIs start with ("" = relative)
    # Keys, IVs and key file names derived from it (hlsd.publish.keyseed), so redundant
    # hosts encrypt alike; None: random keys and IVs.
    key_seed: Secret | None = None


@dataclass(frozen=True)
class LowLatencySettings:
    """`low_latency:` LL-HLS from the built-in origin: parts of at most `part_length`."""

    part_length: float = 0.5  # seconds: #EXT-X-PART-INF PART-TARGET


@dataclass(frozen=True)
class InputLossSettings:
    """`input_loss:` what viewers get while the input is gone (hlsd.ingest)."""

    after: float = 1.0  # seconds without media from the on-air input before acting
    slate: Path | None = None  # image or video shown while every input is lost; None: a card


@dataclass(frozen=True)
class Pathway:
    """One entry of `pathways:` (content steering, RFC 8216bis §7): a host serving this
    stream's files under `url_prefix`; the master lists every variant once per pathway."""

    id: str  # PATHWAY-ID: letters, digits, '.', '-', '_'
    url_prefix: str  # an http(s) URL or a path, ending in '/': what variant URIs start with


@dataclass(frozen=True)
class RecordingSettings:
    """`recording:` every segment kept for good at `transfer_profile`, with a VOD playlist
    per rung closed every `period` seconds (wall-clock aligned) and at stop."""

    transfer_profile: TransferProfile
    period: float = 3600.0


@dataclass(frozen=True)
class HttpSettings:
    listen: str = "127.0.0.1"
    port: int = 8080
    serve: str | None = None  # copy profile whose directory is served; default: the first
    hls_js_url: str = DEFAULT_HLS_JS  # used when no local copy is found (hlsd.serve.hlsjs)
    hls_js_path: Path | None = None  # a local hls.js the origin serves to the player page
    # The admin listener (/metrics, /info.json, /healthz, control routes), off the viewers'
    # port: both set, or both None (the admin routes then answer on the viewers' port).
    admin_listen: str | None = None
    admin_port: int | None = None  # 0: any free port


@dataclass(frozen=True)
class Config:
    temp_dir: Path
    input_location: str
    encoding_profiles: tuple[EncodingProfile, ...] = field(metadata=key("encoding_profile"))
    transfer_profiles: tuple[TransferProfile, ...] = field(metadata=key("transfer_profile"))
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
    # Resolved by the loader: `live` guessed from input_location unless set; the
    # target duration is ⌈segment_length⌉ unless set; `encoder_mode: auto` becomes
    # shared or per_rung.
    live: bool = True
    target_duration: int = 4
    encoder_mode: Literal["per_rung", "shared"] = "per_rung"
    http: HttpSettings | None = None
    segment_format: Literal["ts", "fmp4"] = "ts"
    iframe_playlists: bool = True
    encryption: EncryptionSettings | None = None
    low_latency: LowLatencySettings | None = None
    # Inputs tried in order when input_location is lost, kept open and probed (warm).
    backup_inputs: tuple[str, ...] = ()
    input_loss: InputLossSettings | None = None
    # The encoding profile whose variant the master lists first (players start there);
    # None: the video rung nearest 2 Mbit/s from below (hlsd.media.master.playback_order).
    start_rung: str | None = None
    # Content steering: every variant listed once per pathway (hlsd.media.steering).
    pathways: tuple[Pathway, ...] = ()
    # locked: boundaries and numbers follow the input's clock (hlsd.config.timeline), so
    # redundant hosts fed the same source list the same segments.
    timeline: Literal["local", "locked"] = "local"
    # Seconds of segments kept behind the live edge at every destination, and served by
    # the origin's `?start=`/`?end=` (hlsd.media.dvr); 0: the live window only.
    dvr_window: float = 0.0
    recording: RecordingSettings | None = None
    # How ad breaks are written (hlsd.media.breaks): daterange and/or cue (legacy CUE-OUT/IN).
    ad_markers: tuple[str, ...] = ("daterange",)
    # Where every rung must start a segment (seconds after the input's first video frame):
    # the source's ad splice points, found at start-up in a file input (hlsd.media.splices).
    splice_points: tuple[float, ...] = field(default=(), compare=False, metadata=NOT_A_KEY)
    # --max-duration for the segmenter: keeps round(EXTINF) <= target_duration.
    max_segment_duration: float = field(default=4 + MAX_DURATION_SLACK, metadata=NOT_A_KEY)
    source_path: Path | None = field(default=None, compare=False, metadata=NOT_A_KEY)
    warnings: tuple[str, ...] = field(default=(), compare=False, metadata=NOT_A_KEY)
    # Key paths whose secret the file holds as written, not as a ${VAR} reference: what
    # makes a world-readable file worth a warning (hlsd.config.reader.warn_if_readable).
    written_secrets: tuple[str, ...] = field(default=(), compare=False, metadata=NOT_A_KEY)

    def profile(self, name: str) -> EncodingProfile:
        return next(p for p in self.encoding_profiles if p.name == name)

    @property
    def renditions(self) -> dict[str, Rendition]:
        """The encoding profiles listed as renditions, by name."""
        return {p.name: p.rendition for p in self.encoding_profiles if p.rendition}
