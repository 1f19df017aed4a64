"""Whole-segment AES-128-CBC with PKCS7 padding (RFC 8216 §4.3.2.4), file to file."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

CHUNK = 1 << 20


def encrypt_file(path: Path, key: bytes, iv: bytes) -> int:
    """Replace `path` by its encryption (atomically: tmp + rename); returns the new size.

    Blocking: call it off the event loop.
    """
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    padder = padding.PKCS7(algorithms.AES.block_size).padder()
    tmp = path.with_name(path.name + ".tmp")  # the supervisor sweeps *.tmp after a crash
    size = 0
    with path.open("rb") as src, tmp.open("wb") as dst:
        while chunk := src.read(CHUNK):
            size += dst.write(encryptor.update(padder.update(chunk)))
        size += dst.write(encryptor.update(padder.finalize()) + encryptor.finalize())
    os.replace(tmp, path)
    return size


def decrypt(data: bytes, key: bytes, iv: bytes) -> bytes:
    """The clear bytes of one encrypted segment (tests and tools)."""
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    unpadder = padding.PKCS7(algorithms.AES.block_size).unpadder()
    return unpadder.update(decryptor.update(data) + decryptor.finalize()) + unpadder.finalize()
