"""Redundant hosts encrypt alike: two `hlsd run` with the same `encryption.key_seed` and the
same config publish the same key files and #EXT-X-KEY lines, and one host's segments
decode with the other host's keys."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.daemon_util import extinfs, hlsd_argv, make_source, write_config
from tests.fixtures.static_http import serving
from tests.publish.test_encryption_e2e import (
    KEY_LINE,
    decoded_frames,
    decrypt,
    frames,
    looks_clear,
)

pytestmark = pytest.mark.e2e

SEED = "a-seed-both-hosts-share-0123456789"


@pytest.fixture
def keys_of_b(tmp_path: Path) -> Iterator[str]:
    """An HTTP server on 127.0.0.1 serving host b's key destination, and only that: every
    key a player fetches comes from b."""
    folder = tmp_path / "b" / "keys"
    folder.mkdir(parents=True)
    with serving(folder) as url:
        yield url


def host_config(host: Path, source: Path, key_url: str) -> Path:
    """One host: its own temp_dir and destinations; the rest as the other host's."""
    host.mkdir(exist_ok=True)
    return write_config(
        host / "hlsd.yaml", temp_dir=str(host / "work"), input_location=str(source),
        live=False, segment_length=2, index_segment_count=0, encoding_profile="ep",
        transfer_profile="www",
        encryption={"key_rotation": 2, "key_url_prefix": key_url, "key_transfer_profile": "keys",
                    "key_seed": "${HLSD_TEST_KEY_SEED}"},
        # -c copy: both hosts cut the very same clear bytes, so equal ciphertext is expected
        ep={"ffmpeg_command": "ffmpeg -i %s -c copy -f mpegts -"},
        www={"transfer_type": "copy", "directory": str(host / "www")},
        keys={"transfer_type": "copy", "directory": str(host / "keys")})


def media_lines(playlist: str) -> list[str]:
    return [line for line in playlist.splitlines() if line and not line.startswith("#")]


def test_host_b_keys_decrypt_host_a_segments(tmp_path: Path, keys_of_b: str,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """1. one 12 s file, two daemons (hosts a and b) with the same key_seed and config but
       their own folders and state, run side by side; key URIs point at b's keys
    2. both publish the same segment names, #EXT-X-KEY lines (URI and IV), key file names
       and key bytes, and the same encrypted bytes for each segment
    3. every segment is encrypted (not readable as TS) and decrypts with b's key
    4. ffmpeg, an HLS client, plays a's playlist, keys from b, and decodes every frame"""
    monkeypatch.setenv("HLSD_TEST_KEY_SEED", SEED)
    source = make_source(tmp_path / "src.ts", 12, size="192x108", gop=25)
    hosts = {name: tmp_path / name for name in ("a", "b")}
    procs = {name: subprocess.Popen(hlsd_argv("run", str(host_config(host, source, keys_of_b))),
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for name, host in hosts.items()}
    for name, proc in procs.items():
        out, _ = proc.communicate(timeout=180)
        assert proc.returncode == 0, f"host {name}: {out[-3000:]}"
        assert SEED not in out  # the seed is never logged
    variant = {name: (host / "www" / "live_ep.m3u8").read_text()
               for name, host in hosts.items()}
    tags = KEY_LINE.findall(variant["a"])
    segments = media_lines(variant["a"])
    assert len(tags) == len(segments) == len(extinfs(variant["a"])) >= 6
    assert tags == KEY_LINE.findall(variant["b"])
    assert segments == media_lines(variant["b"])
    assert len({uri for uri, _ in tags}) == (len(segments) + 1) // 2  # rotation: 2 segments
    assert len({iv for _, iv in tags}) == len(segments)

    key_files = {name: {p.name: p.read_bytes() for p in (host / "keys").glob("*.key")}
                 for name, host in hosts.items()}
    assert key_files["a"] == key_files["b"]
    assert sorted(key_files["a"]) == sorted({uri.removeprefix(keys_of_b) for uri, _ in tags})
    for name, (uri, iv) in zip(segments, tags, strict=True):
        data = (hosts["a"] / "www" / name).read_bytes()
        assert data == (hosts["b"] / "www" / name).read_bytes(), name
        key = key_files["b"][uri.removeprefix(keys_of_b)]
        assert not looks_clear(data) and looks_clear(decrypt(data, key, iv)), name

    assert decoded_frames(hosts["a"] / "www" / "live_ep.m3u8") == frames(source)
