"""Validation of transfer profile sections (copy, ftp, scp/sftp, s3) into profile objects.

Part of the loader (it calls `parse_transfer` for each named profile); every problem goes
to the shared Checker, so one run reports them all. Allowed keys are the profile
dataclasses' fields; a key left out takes the dataclass's default.
"""

from __future__ import annotations

import base64
import contextlib
import os
from collections.abc import Iterable, Mapping
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

__all__ = ["TRANSFER_KEYS", "access_warnings", "parse_transfer"]

TRANSFER_KEYS = {kind: yaml_keys(cls) for kind, cls in TRANSFER_TYPES.items()}
# The keys an SSH client tries without key_file (asyncssh, as OpenSSH), in ~/.ssh.
DEFAULT_SSH_KEYS = ("id_ed25519_sk", "id_ecdsa_sk", "id_ed448", "id_ed25519", "id_ecdsa",
                    "id_rsa", "id_dsa")


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


def access_warnings(profiles: Iterable[TransferProfile], check: Checker,
                    ssh_dir: Path | None = None) -> None:
    """What an SFTP/SCP destination lacks to log in or to trust its server, said when the
    config is read rather than at the first upload. `ssh_dir`: the ~/.ssh of the user
    hlsd runs as (the default), whose keys, agent and known_hosts it would use."""
    ssh = ssh_dir if ssh_dir is not None else Path("~", ".ssh").expanduser()
    for p in profiles:
        if not isinstance(p, SshProfile):
            continue
        if p.key_file is not None and not _readable(p.key_file):
            check.warn(f"{p.name}.key_file", f"{p.key_file} does not exist or cannot be read; "
                       + ("only the password is left" if p.password else "login will fail"))
        elif p.key_file is None and p.password is None and not os.environ.get(
                "SSH_AUTH_SOCK") and not any(_readable(ssh / k) for k in DEFAULT_SSH_KEYS):
            check.warn(p.name, f"no password, no key_file, no key in {ssh} (id_ed25519, "
                       "id_ecdsa, id_rsa...) and no ssh-agent (SSH_AUTH_SOCK): login will "
                       "fail; set key_file or password")
        if p.insecure_skip_host_key_check or p.host_key is not None:
            continue
        known = p.known_hosts or ssh / "known_hosts"
        if not _readable(known):
            check.warn(f"{p.name}.known_hosts" if p.known_hosts else p.name,
                       f"{known} does not exist or cannot be read, and no host_key is "
                       f"pinned: {p.remote_host}'s host key cannot be verified, so no "
                       "connection will be made; set known_hosts: FILE or host_key "
                       f"(`ssh-keyscan -t ed25519 {p.remote_host}` prints it)")


def _readable(path: Path) -> bool:
    try:
        return path.is_file() and os.access(path, os.R_OK)
    except (OSError, ValueError):
        return False
