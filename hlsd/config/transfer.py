"""Validation of transfer profile sections (copy, ftp, scp/sftp, s3) into profile objects.

Part of the loader (it calls `parse_transfer` for each named profile); every problem goes
to the shared Checker, so one run reports them all. Allowed keys are the profile
dataclasses' fields; a key left out takes the dataclass's default.
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hlsd.config.checker import Checker, show
from hlsd.config.model import (
    TRANSFER_TYPES,
    CopyProfile,
    FtpProfile,
    S3Profile,
    SshProfile,
    TransferProfile,
    yaml_keys,
)

__all__ = ["TRANSFER_KEYS", "parse_transfer"]

TRANSFER_KEYS = {kind: yaml_keys(cls) for kind, cls in TRANSFER_TYPES.items()}


def present(**values: Any) -> dict[str, Any]:
    """Only the values the section set: the others keep the model's defaults."""
    return {k: v for k, v in values.items() if v is not None}


def parse_transfer(name: str, raw: Mapping[str, Any], check: Checker) -> TransferProfile | None:
    kind = raw.get("transfer_type")
    if not isinstance(kind, str) or kind not in TRANSFER_KEYS:
        check.problem(f"{name}.transfer_type", f"found {show(kind)}",
                      "one of copy, ftp, scp, sftp, s3")
        return None
    check.unknown(raw, TRANSFER_KEYS[kind], name)
    extra = present(concurrency=check.integer(raw, "concurrency", name, minimum=1, maximum=64))
    if kind == "copy":
        directory = check.string(raw, "directory", name, required=True)
        return CopyProfile(name, Path(directory), **extra) if directory else None
    if kind in ("scp", "sftp"):
        host = check.string(raw, "remote_host", name, required=True)
        user = check.string(raw, "user_name", name, required=True)
        port = check.integer(raw, "port", name, minimum=1, maximum=65535)
        insecure = check.boolean(raw, "insecure_skip_host_key_check", name)
        if host is None or user is None:
            return None
        if insecure:
            check.warn(f"{name}.insecure_skip_host_key_check",
                       "host key verification is OFF: anyone on the path can impersonate "
                       "the server")
        key_file = check.string(raw, "key_file", name)
        known = check.string(raw, "known_hosts", name)
        return SshProfile(
            name=name, transfer_type="scp" if kind == "scp" else "sftp", remote_host=host,
            user_name=user,
            **present(directory=check.string(raw, "directory", name),
                      password=check.secret(raw, "password", name), port=port,
                      key_file=Path(key_file).expanduser() if key_file else None,
                      known_hosts=Path(known).expanduser() if known else None,
                      host_key=_host_key(check, raw, name),
                      insecure_skip_host_key_check=insecure), **extra)
    if kind == "ftp":
        host = check.string(raw, "remote_host", name, required=True)
        user = check.string(raw, "user_name", name, required=True)
        password = check.secret(raw, "password", name, required=True)
        port = check.integer(raw, "port", name, minimum=1, maximum=65535)
        passive = check.boolean(raw, "passive", name)
        if passive is False:
            check.warn(f"{name}.passive", "active mode is not supported; passive mode is used")
        tls = check.boolean(raw, "tls", name)
        ca_file = check.string(raw, "tls_ca_file", name)
        if ca_file and not tls:
            check.problem(f"{name}.tls_ca_file", "is set but tls is not true",
                          "tls: true, or no tls_ca_file")
        if host is None or user is None or password is None:
            return None
        return FtpProfile(name=name, remote_host=host, user_name=user, password=password,
                          **present(directory=check.string(raw, "directory", name),
                                    port=port, passive=passive, tls=tls,
                                    tls_ca_file=Path(ca_file) if ca_file else None), **extra)
    bucket = check.string(raw, "bucket_name", name, required=True)
    prefix = check.string(raw, "key_prefix", name) or ""
    if ".." in prefix.split("/") or prefix.startswith("/"):
        check.problem(f"{name}.key_prefix", f"found {prefix!r}",
                      "a relative prefix without '..' parts, e.g. live/channel1/")
    key = check.secret(raw, "aws_api_key", name)
    secret = check.secret(raw, "aws_api_secret", name)
    if (key is None) != (secret is None):
        check.problem(f"{name}.aws_api_key", "only one of aws_api_key and aws_api_secret "
                      "is set", "both, or neither to use the standard AWS credential chain")
    style = check.choice(raw, "addressing_style", name, ("auto", "path", "virtual"))
    if bucket is None:
        return None
    return S3Profile(name=name, bucket_name=bucket, key_prefix=prefix, **present(
        aws_api_key=key, aws_api_secret=secret, region=check.string(raw, "region", name),
        endpoint_url=check.string(raw, "endpoint_url", name), addressing_style=style,
        acl=check.string(raw, "acl", name),
        playlist_cache_control=check.string(raw, "playlist_cache_control", name),
        segment_cache_control=check.string(raw, "segment_cache_control", name)), **extra)


def _host_key(check: Checker, raw: Mapping[str, Any], name: str) -> str | None:
    """A pinned key, checked now rather than at the first connect: an OpenSSH public key
    line ("TYPE BASE64 [comment]") whose blob names the same TYPE."""
    value = check.string(raw, "host_key", name)
    if value is None:
        return None
    parts = value.split()
    blob = b""
    if len(parts) >= 2:
        with contextlib.suppress(ValueError):  # binascii.Error is one
            blob = base64.b64decode(parts[1], validate=True)
    size = int.from_bytes(blob[:4], "big")
    if len(parts) < 2 or blob[4:4 + size].decode("ascii", "replace") != parts[0]:
        check.problem(f"{name}.host_key", "is not an OpenSSH public key",
                      'one line as in known_hosts or a .pub file: "ssh-ed25519 AAAA…"')
        return None
    return value
