"""FTP destination (aioftp) with a small pool of logged-in control connections.

FTP moves one file per control connection at a time, so each concurrent call takes
its own client from the pool; clients are made lazily, reused while healthy and
dropped after any error, because the state of a connection whose command failed
half-way (data channel open, RNFR pending) is unknown. Passive mode only (EPSV, then
PASV), as aioftp implements; `passive: false` is a config warning.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path, PurePosixPath
from typing import BinaryIO, TypeVar

import aioftp

from hlsd.config import FtpProfile
from hlsd.publish.transfer.base import TransferError
from hlsd.publish.transfer.remote import RemoteDirectory, temp_name

T = TypeVar("T")

CONNECT_TIMEOUT = 10.0  # seconds to open a TCP connection
SOCKET_TIMEOUT = 30.0  # seconds without progress before a read or write gives up
QUIT_TIMEOUT = 2.0
BLOCK_SIZE = 256 * 1024

# The peer or the network went away, as opposed to the server refusing one command.
# TimeoutError and ConnectionError are OSError subclasses.
LOST = (OSError, asyncio.IncompleteReadError, EOFError)


def _refused(exc: aioftp.StatusCodeError) -> bool:
    return any(code.matches("5xx") for code in exc.received_codes)


def _closing(exc: aioftp.StatusCodeError) -> bool:
    # 421: the server is closing this control connection (idle timeout, shutdown).
    return any(code.matches("421") for code in exc.received_codes)


class FtpTransfer(RemoteDirectory[aioftp.Client]):
    """Publishes into `profile.directory` on an FTP server (explicit TLS optional)."""

    scheme = "ftp"

    def __init__(self, profile: FtpProfile) -> None:
        super().__init__(profile.name, profile.directory, profile.user_name,
                         profile.remote_host, profile.port, profile.password.reveal())
        self._profile = profile
        self._idle: list[aioftp.Client] = []
        self._busy: set[aioftp.Client] = set()
        self._slots = asyncio.Semaphore(profile.concurrency)
        self._ssl: ssl.SSLContext | None = None

    async def _make_directory(self, client: aioftp.Client) -> None:
        await client.make_directory(self._dir, parents=True)

    async def put_segment(self, local: Path, name: str) -> None:
        path = self._dir / name
        try:
            source = await asyncio.to_thread(local.open, "rb")
        except OSError as exc:
            raise TransferError(f"{self.name}: cannot read {local}: {exc.strerror}") from None
        with source:
            async def upload(client: aioftp.Client) -> None:
                source.seek(0)  # a retry on a new connection starts over
                await self._store(client, path, source)
            await self._call("upload", path, upload)

    async def put_playlist(self, data: bytes, name: str) -> None:
        target = self._dir / name
        temp = self._dir / temp_name(name)

        async def replace(client: aioftp.Client) -> None:
            async with client.upload_stream(temp) as stream:
                await stream.write(data)
            try:
                await self._rename_over(client, temp, target)
            except aioftp.StatusCodeError:
                with contextlib.suppress(aioftp.StatusCodeError):
                    await client.remove_file(temp)
                raise
        await self._call("replace", target, replace)

    async def put_key(self, data: bytes, name: str) -> None:
        # FTP sets no modes: the server's umask and its web server's rules decide.
        await self.put_playlist(data, name)

    async def delete(self, names: Sequence[str]) -> None:
        paths = [self._dir / name for name in names]
        if not paths:
            return

        async def remove(client: aioftp.Client) -> None:
            for path in paths:
                try:
                    await client.remove_file(path)
                except aioftp.StatusCodeError as exc:
                    # 550 means "missing" or "not allowed"; only the first is fine.
                    if not _refused(exc) or await client.exists(path):
                        raise
        await self._call("delete", paths[0].parent, remove)

    async def close(self) -> None:
        idle, busy = self._idle, self._busy
        self._idle, self._busy = [], set()
        for client in idle:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(QUIT_TIMEOUT):
                    await client.quit()
            client.close()
        for client in busy:
            client.close()

    async def _store(self, client: aioftp.Client, path: PurePosixPath, source: BinaryIO) -> None:
        async with client.upload_stream(path) as stream:
            while block := await asyncio.to_thread(source.read, BLOCK_SIZE):
                await stream.write(block)

    async def _rename_over(self, client: aioftp.Client, temp: PurePosixPath,
                           target: PurePosixPath) -> None:
        try:
            await client.rename(temp, target)
        except aioftp.StatusCodeError as exc:
            if not _refused(exc):
                raise
            # Some servers refuse RNTO onto an existing file. Deleting first opens a
            # short window without the playlist, which players ride out by retrying.
            self._log.debug("ftp server refused rename over existing file", path=str(target))
            with contextlib.suppress(aioftp.StatusCodeError):
                await client.remove_file(target)
            await client.rename(temp, target)

    async def _call(self, action: str, path: PurePosixPath,
                    op: Callable[[aioftp.Client], Awaitable[T]]) -> T:
        """Run `op` on a pooled client; reconnect once if that client turns out dead."""
        async with self._slots:
            for attempt in (1, 2):
                client, reused = await self._acquire(action, path)
                try:
                    result = await op(client)
                except aioftp.StatusCodeError as exc:
                    self._drop(client)
                    if _closing(exc) and reused and attempt == 1:
                        self._reconnecting(exc)
                        continue
                    raise self._errors.error(action, path, exc) from None
                except LOST as exc:
                    self._drop(client)
                    if reused and attempt == 1:
                        self._reconnecting(exc)
                        continue
                    raise self._errors.error(action, path, exc) from None
                except BaseException:
                    self._drop(client)  # cancelled mid-command: the connection state is unknown
                    raise
                self._busy.discard(client)
                self._idle.append(client)
                return result
        raise AssertionError("unreachable")

    def _reconnecting(self, exc: BaseException) -> None:
        # A dead connection usually means the server restarted: its siblings are dead too.
        for client in self._idle:
            client.close()
        self._idle.clear()
        self._log.info("ftp connection lost, reconnecting", error=self._errors.detail(exc))

    async def _acquire(self, action: str, path: PurePosixPath) -> tuple[aioftp.Client, bool]:
        if self._idle:
            client = self._idle.pop()
            self._busy.add(client)
            return client, True
        profile = self._profile
        client = aioftp.Client(socket_timeout=SOCKET_TIMEOUT, connection_timeout=CONNECT_TIMEOUT)
        try:
            await client.connect(profile.remote_host, profile.port)
            if profile.tls:
                await client.upgrade_to_tls(self._tls_context())
            await client.login(profile.user_name, profile.password.reveal())
        except (aioftp.AIOFTPException, OSError, ssl.SSLError, EOFError) as exc:
            client.close()
            raise self._errors.error(action, path, exc, stage="connect: ") from None
        except BaseException:
            client.close()
            raise
        self._busy.add(client)
        self._log.debug("ftp connected", url=self._where)
        return client, False

    def _tls_context(self) -> ssl.SSLContext:
        """Certificate and host name verified: against `tls_ca_file` if set (a private
        CA), else the system's CAs. Built on first use; a bad CA file is an OSError or
        SSLError that the caller reports like any failed connect."""
        if self._ssl is None:
            ca = self._profile.tls_ca_file
            self._ssl = ssl.create_default_context(cafile=str(ca) if ca else None)
        return self._ssl

    def _drop(self, client: aioftp.Client) -> None:
        self._busy.discard(client)
        client.close()
