"""The `copy` destination: a local directory, usually a web server's document root."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from hlsd.config import CopyProfile
from hlsd.publish.transfer.base import TransferError

FILE_MODE = 0o644  # served by a web server running as another user
# Keys: the web server that serves them must be in hlsd's group; nobody else reads them.
KEY_MODE = 0o640
# A stopped destination's uploads still running in its threads (a reload replaced it)
# get this long to finish before its successor writes: never two writers at once.
CLOSE_GRACE = 2.0
STALE_TMP = 600.0  # seconds: a temporary file this old was left by a crash


def _tmp_name(name: str) -> str:
    """Hidden (never served), and unique: two writers of one name never share a file."""
    return f".{name}.{secrets.token_hex(4)}.tmp"


def _check_name(name: str) -> None:
    if not name or "/" in name or name in (".", "..") or "\0" in name:
        raise TransferError(f"refusing object name {name!r}")


class CopyTransfer:
    def __init__(self, profile: CopyProfile) -> None:
        self.name = profile.name
        self.directory = profile.directory
        self._threads = profile.concurrency
        # Its own threads, not the loop's shared default pool: a directory that hangs
        # (a dead network mount) then blocks only this destination's uploads, never
        # another destination's work or the daemon's state saving.
        self._pool: ThreadPoolExecutor | None = None

    async def _run(self, fn: Callable[..., None], *args: Any) -> None:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self._threads, thread_name_prefix=f"copy-{self.name}")
        await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    async def open(self) -> None:
        try:
            await self._run(self._prepare)
        except OSError as exc:
            raise TransferError(f"cannot create {self.directory}: {exc.strerror}") from None

    def _prepare(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        cutoff = time.time() - STALE_TMP
        for stale in self.directory.glob(".*.tmp"):
            with contextlib.suppress(OSError):
                if stale.stat().st_mtime < cutoff:
                    stale.unlink()

    def _install(self, write_tmp: Path, target: Path, mode: int = FILE_MODE) -> None:
        os.chmod(write_tmp, mode)
        os.replace(write_tmp, target)  # atomic: readers see the old or the new file
        # rename() does nothing when both names are links to one file (a segment stored
        # twice): the temporary name must still go
        with contextlib.suppress(FileNotFoundError):
            os.unlink(write_tmp)

    def _put_file(self, local: Path, name: str) -> None:
        target = self.directory / name
        tmp = self.directory / _tmp_name(name)
        try:
            try:
                os.link(local, tmp)  # same filesystem: no bytes copied
            except OSError:
                shutil.copyfile(local, tmp)
            self._install(tmp, target)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise TransferError(f"cannot store {target}: {exc.strerror}") from None

    def _put_bytes(self, data: bytes, name: str, mode: int = FILE_MODE) -> None:
        target = self.directory / name
        tmp = self.directory / _tmp_name(name)
        try:
            # Created with the final mode: a key is never readable by others, not even
            # for the instant before the chmod.
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            self._install(tmp, target, mode)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise TransferError(f"cannot write {target}: {exc.strerror}") from None

    def _delete(self, names: Sequence[str]) -> None:
        for name in names:
            try:
                (self.directory / name).unlink()
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise TransferError(f"cannot delete {self.directory / name}: "
                                    f"{exc.strerror}") from None

    async def put_segment(self, local: Path, name: str) -> None:
        _check_name(name)
        await self._run(self._put_file, local, name)

    async def put_playlist(self, data: bytes, name: str) -> None:
        _check_name(name)
        await self._run(self._put_bytes, data, name)

    async def put_key(self, data: bytes, name: str) -> None:
        _check_name(name)
        await self._run(self._put_bytes, data, name, KEY_MODE)

    async def delete(self, names: Sequence[str]) -> None:
        for name in names:
            _check_name(name)
        await self._run(self._delete, names)

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
            # Writes already running finish first (a successor must not race them); a
            # hung call (a dead mount) keeps its thread, and we stop waiting on it.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(CLOSE_GRACE):
                    await asyncio.to_thread(pool.shutdown, wait=True)
