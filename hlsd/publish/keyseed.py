"""Keys, IVs and key file names derived from `encryption.key_seed` (HKDF-SHA256, RFC 5869),
so that every host given the same seed encrypts alike: the same key for a key number, the
same IV for a rung's segment, and key files with the same names. A player may then fetch
one host's segments with the other host's keys."""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from hlsd import config as cfg

# Fixed for good: changing any of these changes every derived key on one host only.
SALT = b"hlsd encryption.key_seed"
KEY_INFO = b"hlsd key"
IV_INFO = b"hlsd iv"
NAME_INFO = b"hlsd name"
KEY_BYTES = 16  # AES-128
IV_BYTES = 16
NAME_BYTES = 4  # 8 hex digits in the file name


def _u64(number: int) -> bytes:
    return number.to_bytes(8, "big")  # raises for a negative or oversized number


class KeySeed:
    """The seed and what it derives. It never prints (repr shows ***)."""

    __slots__ = ("_seed",)

    def __init__(self, seed: cfg.Secret) -> None:
        self._seed = seed.reveal().encode("utf-8")

    def _derive(self, info: bytes, length: int) -> bytes:
        return HKDF(algorithm=hashes.SHA256(), length=length, salt=SALT,
                    info=info).derive(self._seed)

    def key(self, number: int) -> bytes:
        """Key number `number`'s 16 bytes."""
        return self._derive(KEY_INFO + _u64(number), KEY_BYTES)

    def iv(self, number: int, rung: str, seq: int) -> bytes:
        """The IV of segment `seq` of `rung`, encrypted with key `number`. The rung is part
        of it: one key serves every rung, and a (key, IV) pair must not repeat."""
        return self._derive(IV_INFO + _u64(number) + _u64(seq) + rung.encode("utf-8"),
                            IV_BYTES)

    def name_tag(self, number: int) -> str:
        """Hex digits for key `number`'s file name: another seed names its keys otherwise,
        so a name never stands for two different keys, and says nothing of the key."""
        return self._derive(NAME_INFO + _u64(number), NAME_BYTES).hex()

    def __repr__(self) -> str:
        return "KeySeed('***')"
