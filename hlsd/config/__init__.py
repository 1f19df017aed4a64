"""Configuration: the model (hlsd.config.model), `load(path)` / `parse(raw)` to get one
(hlsd.config.loader), and ConfigError carrying one Problem per mistake.

The first stage of the pipeline: every other stage reads a frozen Config and never
parses YAML itself.
"""

from hlsd.config.errors import ConfigError, Problem
from hlsd.config.loader import load, parse
from hlsd.config.model import (
    DEFAULT_HLS_JS,
    Config,
    CopyProfile,
    EncodingProfile,
    EncryptionSettings,
    FtpProfile,
    HttpSettings,
    InputLossSettings,
    LowLatencySettings,
    Pathway,
    S3Profile,
    SshProfile,
    TransferProfile,
)
from hlsd.config.secret import Secret

__all__ = [
    "DEFAULT_HLS_JS", "Config", "ConfigError", "CopyProfile", "EncodingProfile",
    "EncryptionSettings", "FtpProfile", "HttpSettings", "InputLossSettings",
    "LowLatencySettings", "Pathway", "Problem",
    "S3Profile", "Secret", "SshProfile", "TransferProfile", "load", "parse",
]
