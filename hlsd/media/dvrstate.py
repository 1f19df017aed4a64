"""The time-shift index as saved state (hlsd.media.dvr): chunks of CHUNK entries, each
its columns' bytes and its names compressed once. The state is saved every second, and a
24 h index is 86,400 entries a rung: a chunk once full never changes, so only the last one
is encoded again, and the whole is a small fraction of the raw columns. Pure."""

from __future__ import annotations

import base64
import zlib
from array import array
from typing import Any, Protocol

from hlsd.media.playlist import KeyTag

CHUNK = 4096
COLUMNS = ("seqs", "starts", "durations", "disc_before")  # 8 bytes an entry each


class Columns(Protocol):
    """The index's columns (hlsd.media.dvr.DvrIndex)."""

    seqs: array[int]
    starts: array[float]
    durations: array[float]
    disc_before: array[int]
    flags: bytearray
    names: list[str]
    maps: list[str | None]
    keys: list[KeyTag | None]


def encode(index: Columns, lo: int, hi: int) -> dict[str, Any]:
    """Entries lo..hi (positions in the index's columns) as one chunk."""
    raw = b"".join(getattr(index, name)[lo:hi].tobytes() for name in COLUMNS)
    keys = index.keys[lo:hi]
    return {"n": hi - lo, "columns": _pack(raw + bytes(index.flags[lo:hi])),
            "names": _pack("\n".join(index.names[lo:hi]).encode()),
            "maps": _runs(index.maps[lo:hi]),
            "keys": [[k.uri, k.iv] if k else None for k in keys] if any(keys) else None}


def decode(chunks: list[dict[str, Any]], index: Columns) -> None:
    """Fill an empty index's columns from saved chunks; raises ValueError, KeyError,
    TypeError for anything `encode` did not write."""
    for chunk in chunks:
        n = int(chunk["n"])
        raw = _unpack(chunk["columns"])
        if len(raw) != 33 * n:
            raise ValueError("a chunk's columns have the wrong size")
        offset = 0
        for name in COLUMNS:
            getattr(index, name).frombytes(raw[offset:offset + 8 * n])
            offset += 8 * n
        index.flags += raw[offset:]
        names = _unpack(chunk["names"]).decode().split("\n") if n else []
        maps = _unruns(chunk["maps"])
        keys = chunk["keys"]
        keys = [KeyTag(*k) if k else None for k in keys] if keys else [None] * n
        if not len(names) == len(maps) == len(keys) == n:
            raise ValueError("a chunk's names, init segments or keys do not match")
        index.names += names
        index.maps += maps
        index.keys += keys


def _pack(data: bytes) -> str:
    return base64.b64encode(zlib.compress(data, 1)).decode()


def _unpack(text: str) -> bytes:
    return zlib.decompress(base64.b64decode(text, validate=True))


def _runs(values: list[str | None]) -> list[list[Any]]:
    """[[count, value], ...]: init segment names change rarely."""
    runs: list[list[Any]] = []
    for value in values:
        if runs and runs[-1][1] == value:
            runs[-1][0] += 1
        else:
            runs.append([1, value])
    return runs


def _unruns(runs: list[list[Any]]) -> list[str | None]:
    values: list[str | None] = []
    for count, value in runs:
        values += [None if value is None else str(value)] * int(count)
    return values
