"""AES-128 encryption end to end: `hlsd run` encrypts, ffmpeg as an HLS client decrypts
with keys fetched from a local HTTP server, and fails without the right keys."""

from __future__ import annotations

import functools
import re
import signal
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from tests.daemon_util import (
    FAST_X264,
    extinfs,
    hlsd_argv,
    lavfi_command,
    make_source,
    read,
    running,
    wait_for,
    write_config,
)
from tests.fixtures.static_http import serving
from tests.hlscheck import MediaPlaylistWatcher

pytestmark = pytest.mark.e2e

WHITELIST = ["-protocol_whitelist", "file,http,tcp,crypto,data"]
KEY_LINE = re.compile(r'#EXT-X-KEY:METHOD=AES-128,URI="([^"]+)",IV=0x([0-9a-f]{32})')


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_source(tmp_path_factory.mktemp("src") / "src.ts", 12, size="192x108", gop=25)


@pytest.fixture
def key_server(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A plain HTTP server on 127.0.0.1 serving the key destination's folder."""
    folder = tmp_path / "keys"
    folder.mkdir()
    with serving(folder) as url:
        yield folder, url


def encrypted_config(tmp_path: Path, keys: Path, url: str, input_location: str,
                     segment_format: str, live: bool, **extra: object) -> Path:
    return write_config(
        tmp_path / "enc.yaml", temp_dir=str(tmp_path / "work"), input_location=input_location,
        live=live, segment_length=2, index_segment_count=0 if not live else 6,
        segment_format=segment_format, encoding_profile="ep", transfer_profile="www",
        encryption={"key_rotation": 2, "key_url_prefix": url, "key_transfer_profile": "keys"},
        ep={"ffmpeg_command": extra.pop("command", f"ffmpeg -i %s {FAST_X264} -b:v 200k "
                                                   "-c:a aac -b:a 64k -f mpegts -")},
        www={"transfer_type": "copy", "directory": str(tmp_path / "www")},
        keys={"transfer_type": "copy", "directory": str(keys)}, **extra)


def looks_clear(data: bytes) -> bool:
    """MPEG-TS sync bytes every 188 bytes, or an fMP4 segment's first box."""
    ts = len(data) > 376 and data[0] == data[188] == data[376] == 0x47
    return ts or data[4:8] in (b"styp", b"moof", b"ftyp")


def decrypt(data: bytes, key: bytes, iv: str) -> bytes:
    """AES-128-CBC as RFC 8216 §5.2 has a client do it (PKCS7 padding removed)."""
    clear = Cipher(algorithms.AES(key), modes.CBC(bytes.fromhex(iv))).decryptor().update(data)
    return clear[:-clear[-1]]


def decoded_frames(playlist: Path) -> int:
    out = subprocess.run(["ffmpeg", "-v", "error", *WHITELIST, "-i", str(playlist),
                          "-map", "0:v", "-f", "framemd5", "-"], capture_output=True,
                         text=True, timeout=120)
    return sum(1 for line in out.stdout.splitlines() if line and not line.startswith("#"))


def frames(path: Path) -> int:
    out = subprocess.run(["ffprobe", "-v", "error", "-count_packets", "-select_streams", "v:0",
                          "-show_entries", "stream=nb_read_packets", "-of", "csv=p=0",
                          str(path)], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[0])  # a TS file lists its program's stream too


@pytest.mark.parametrize("segment_format", ["ts", "fmp4"])
def test_vod_is_encrypted_rotated_and_decodes_only_with_its_keys(
        source: Path, tmp_path: Path, key_server: tuple[Path, str],
        segment_format: str) -> None:
    """1. a 12 s file, 2 s segments, a new key every 2 segments, keys to their own
       destination served over HTTP
    2. no segment is readable as media by itself; every segment has its own IV; one key
       per 2 segments; no key file at the segment destination; keys 0600 in temp_dir
    3. ffmpeg (an HLS client) decodes every frame of the source through the keys
    4. with other bytes in the key files, decoding fails: the encryption is real"""
    keys, url = key_server
    www = tmp_path / "www"
    config = encrypted_config(tmp_path, keys, url, str(source), segment_format, live=False)
    done = subprocess.run(hlsd_argv("run", str(config)), capture_output=True, text=True,
                          timeout=180)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    variant = (www / "live_ep.m3u8").read_text()
    MediaPlaylistWatcher("enc", check_window=False).check(variant,
                                                         lambda uri: (www / uri).is_file())
    tags = KEY_LINE.findall(variant)
    segments = len(extinfs(variant))
    assert len(tags) == segments >= 6  # one tag per segment: each its own IV
    assert len({iv for _, iv in tags}) == segments
    assert len({uri for uri, _ in tags}) == (segments + 1) // 2
    assert all(uri.startswith(url) for uri, _ in tags)
    media = [line for line in variant.splitlines() if line and not line.startswith("#")]
    for name, (uri, iv) in zip(media, tags, strict=True):
        data = (www / name).read_bytes()
        key = (keys / uri.removeprefix(url)).read_bytes()
        assert not looks_clear(data) and looks_clear(decrypt(data, key, iv)), name
    if segment_format == "fmp4":  # the init segment is clear, and no key applies to it
        assert variant.index("#EXT-X-MAP") < variant.index("#EXT-X-KEY")
    assert not list(www.glob("*.key"))
    local = list((tmp_path / "work" / "keys").glob("*.key"))
    assert local and all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in local)
    assert all(not stat.S_IMODE(p.stat().st_mode) & 0o007 for p in keys.glob("*.key"))

    assert decoded_frames(www / "live_ep.m3u8") == frames(source)
    for key in keys.glob("*.key"):
        key.write_bytes(bytes(16))
    assert decoded_frames(www / "live_ep.m3u8") < frames(source) // 2


def test_restart_continues_the_key_sequence(tmp_path: Path,
                                            key_server: tuple[Path, str]) -> None:
    """1. a live encrypted stream; stopped with SIGTERM after two key periods
    2. started again: its keys continue the numbering (no name reused), and no
       (key, IV) pair ever repeats"""
    keys, url = key_server
    config = encrypted_config(tmp_path, keys, url, "lavfi", "ts", live=True,
                              command=lavfi_command(size="160x90"))
    variant = tmp_path / "www" / "live_ep.m3u8"
    seen: list[tuple[str, str]] = []

    def new_keys_at_least(known: set[str], n: int) -> bool:
        return len({u for u, _ in KEY_LINE.findall(read(variant) or "")} - known) >= n

    for run in (1, 2):
        known = {u for u, _ in seen}
        with running(config, tmp_path / f"hlsd{run}.log") as proc:
            wait_for(functools.partial(new_keys_at_least, known, 2), 60,
                     "two new keys in the playlist")
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 0
        seen += [t for t in KEY_LINE.findall(variant.read_text()) if t not in seen]
    numbers = [int(u.rsplit("-", 2)[1]) for u in dict.fromkeys(u for u, _ in seen)]
    assert numbers == sorted(numbers) and len(set(numbers)) == len({u for u, _ in seen})
    assert len({iv for _, iv in seen}) == len(seen)
    assert all((keys / uri.removeprefix(url)).is_file() for uri, _ in seen[-2:])
