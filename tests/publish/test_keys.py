"""The key ring: one key per period on every rung, files 0600, published in order, retired
after its horizon; and the cipher it feeds."""

from __future__ import annotations

import asyncio
import shutil
import stat
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from hlsd.config import CopyProfile, EncryptionSettings
from hlsd.publish.cipher import decrypt, encrypt_file
from hlsd.publish.keys import KeyRing, KeyState


def ring(tmp_path: Path, rotation: int, horizon: int = 4) -> KeyRing:
    settings = EncryptionSettings(key_transfer_profiles=(CopyProfile("keys", tmp_path / "k"),),
                                  key_rotation=rotation, key_url_prefix="https://k/")
    return KeyRing(settings, tmp_path / "work" / "keys", "live", KeyState(next_index=7),
                   horizon=horizon, grace=10.0)


def names(keys: Sequence[object]) -> list[str]:
    return [getattr(k, "name") for k in keys]  # noqa: B009


async def test_one_key_per_period_shared_by_rungs(tmp_path: Path) -> None:
    keys = ring(tmp_path, rotation=3)
    first = [keys.key_for(s) for s in (0, 1, 2)]
    assert len({k.name for k in first}) == 1 and first[0].index == 7  # numbering continues
    assert keys.key_for(2) is first[0]  # another rung, same sequence number: same key
    second = keys.key_for(3)
    assert second is not first[0] and second.index == 8
    assert second.uri == "https://k/" + second.name
    assert stat.S_IMODE(second.path.stat().st_mode) == 0o600
    assert second.path.read_bytes() == second.material() and len(second.material()) == 16
    assert "material" not in repr(second) and second.material().hex() not in repr(second)
    assert keys.state().next_index == 9


async def test_keys_are_published_in_order_then_retired(tmp_path: Path) -> None:
    """1. keys for periods 0 and 1; the ring publishes them to a real copy destination
    2. each is `published` only once stored there (0640, not world-readable)
    3. past the horizon the old key is scheduled for deletion and its local file goes"""
    keys = ring(tmp_path, rotation=2, horizon=4)
    k0, k1 = keys.key_for(0), keys.key_for(2)
    runner = asyncio.create_task(keys.run())
    try:
        await asyncio.wait_for(k1.published.wait(), 10)
        assert k0.published.is_set()
        for key in (k0, k1):
            stored = tmp_path / "k" / key.name
            assert stored.read_bytes() == key.material()
            assert not stat.S_IMODE(stored.stat().st_mode) & 0o007
        keys.key_for(1 + 4 + 1)  # k0 last used at 1: past the horizon now
        assert not k0.path.exists() and k1.path.exists()
        pending = keys.state().retention["keys"].to_dict()["pending"]
        assert [name for _, name in pending] == [k0.name]
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)


def test_no_rotation_means_one_key(tmp_path: Path) -> None:
    keys = ring(tmp_path, rotation=0)
    assert len({keys.key_for(s).name for s in range(50)}) == 1


# NIST SP 800-38A, F.2.1 CBC-AES128.Encrypt: four blocks, each ciphered exactly so.
NIST_KEY = bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c")
NIST_IV = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
NIST_PLAIN = bytes.fromhex(
    "6bc1bee22e409f96e93d7e117393172a" "ae2d8a571e03ac9c9eb76fac45af8e51"
    "30c81c46a35ce411e5fbc1191a0a52ef" "f69f2445df4f9b17ad2b417be66c3710")
NIST_CIPHER = bytes.fromhex(
    "7649abac8119b246cee98e9b12e9197d" "5086cb9b507219ee95db113a917678b2"
    "73bed6b8e3c1743b7116e69e22229516" "3ff1caa1681fac09120eca307586e1a7")


def openssl_decrypt(path: Path, key: bytes, iv: bytes) -> bytes:
    """AES-128-CBC, PKCS7 padding checked and removed, by OpenSSL's command line tool: a
    decryptor that shares nothing with hlsd's code (as a player's would not)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed (apt-get install openssl)")
    return subprocess.run([openssl, "enc", "-d", "-aes-128-cbc", "-K", key.hex(), "-iv",
                           iv.hex(), "-in", str(path)], capture_output=True, check=True).stdout


def test_encrypt_file_is_aes_128_cbc_with_pkcs7(tmp_path: Path) -> None:
    """1. NIST's CBC-AES128 vector: the first four blocks are NIST's ciphertext, and a
       whole block of padding follows (PKCS7: 16 bytes of 16);
    2. sizes around the block and across encrypt_file's 1 MiB chunks: OpenSSL decrypts
       each to the clear bytes (it checks the padding: a wrong one is an error there);
    3. hlsd's own decrypt (for tools) agrees."""
    vector = tmp_path / "nist.ts"
    vector.write_bytes(NIST_PLAIN)
    assert encrypt_file(vector, NIST_KEY, NIST_IV) == 80
    assert vector.read_bytes()[:64] == NIST_CIPHER
    assert openssl_decrypt(vector, NIST_KEY, NIST_IV) == NIST_PLAIN
    for size in (0, 1, 15, 16, 17, 3 * 1024 * 1024 + 5):
        path = tmp_path / f"s{size}.ts"
        clear = bytes(range(256)) * (size // 256) + bytes(size % 256)
        path.write_bytes(clear)
        key, iv = bytes(range(16)), bytes(range(16, 32))
        n = encrypt_file(path, key, iv)
        data = path.read_bytes()
        assert n == len(data) == (size // 16 + 1) * 16 and data != clear[:n]
        assert openssl_decrypt(path, key, iv) == clear, size
        assert decrypt(data, key, iv) == clear
