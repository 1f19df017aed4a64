"""SFTP destination (asyncssh), used for both `scp` and `sftp` transfer types.

SFTP rather than the scp protocol because it can rename: playlists are written to a
temporary name and renamed over the old one. One SSH connection with one SFTP
client serves every concurrent call (SFTP multiplexes requests by id).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path, PurePosixPath
from typing import TypeVar

import asyncssh
import structlog

from hlsd.config import SshProfile
from hlsd.transfer.base import TransferError

T = TypeVar("T")

CONNECT_TIMEOUT = 10.0  # seconds for TCP connect plus SSH handshake
KEEPALIVE_INTERVAL = 15.0  # a silently dead peer is noticed after about 3 intervals
KEEPALIVE_COUNT_MAX = 3
DEFAULT_KNOWN_HOSTS = Path("~", ".ssh", "known_hosts")

KnownHosts = str | tuple[list[asyncssh.SSHKey], list[asyncssh.SSHKey], list[asyncssh.SSHKey]] | None


def temp_name(name: str) -> str:
    """Hidden and unique, so concurrent replacements of one playlist never share it."""
    return f".{name}.{secrets.token_hex(4)}.tmp"


def _connection_lost(exc: BaseException) -> bool:
    # SFTPNoConnection: the client noticed the loss before this request was sent (no
    # request was in flight when the server went away); the client is dead all the same.
    return isinstance(exc, asyncssh.SFTPConnectionLost | asyncssh.SFTPNoConnection
                      | asyncssh.DisconnectError | asyncssh.ChannelOpenError
                      | ConnectionError | EOFError)


class SftpTransfer:
    """Publishes into `profile.directory` over SFTP, verifying the server's host key."""

    def __init__(self, profile: SshProfile) -> None:
        self.name = profile.name
        self._profile = profile
        self._dir = PurePosixPath(profile.directory)
        self._where = f"sftp://{profile.user_name}@{profile.remote_host}:{profile.port}"
        self._conn: asyncssh.SSHClientConnection | None = None
        self._sftp: asyncssh.SFTPClient | None = None
        self._connecting = asyncio.Lock()
        self._posix_rename = True  # until the server shows it lacks posix-rename@openssh.com
        self._warned_insecure = False
        self._log = structlog.get_logger().bind(destination=profile.name)

    async def open(self) -> None:
        if str(self._dir) in (".", "/"):
            await self._call("log in", self._dir, self._noop)
        else:
            await self._call("create directory", self._dir,
                             lambda sftp: sftp.makedirs(self._dir, exist_ok=True))
        self._log.info("sftp destination ready", url=self._where, directory=str(self._dir))

    async def put_segment(self, local: Path, name: str) -> None:
        if not local.is_file():
            raise TransferError(f"{self.name}: cannot read {local}: not a file")
        path = self._dir / name
        await self._call("upload", path, lambda sftp: sftp.put(local, path))

    async def put_playlist(self, data: bytes, name: str) -> None:
        target = self._dir / name
        temp = self._dir / temp_name(name)

        async def replace(sftp: asyncssh.SFTPClient) -> None:
            async with sftp.open(temp, "wb") as remote:
                await remote.write(data)
            try:
                await self._rename_over(sftp, temp, target)
            except asyncssh.SFTPError as exc:
                if not _connection_lost(exc):
                    with contextlib.suppress(asyncssh.SFTPError):
                        await sftp.remove(temp)
                raise
        await self._call("replace", target, replace)

    async def delete(self, names: Sequence[str]) -> None:
        paths = [self._dir / name for name in names]
        if not paths:
            return

        async def remove_one(sftp: asyncssh.SFTPClient, path: PurePosixPath) -> None:
            with contextlib.suppress(asyncssh.SFTPNoSuchFile):
                await sftp.remove(path)

        async def remove(sftp: asyncssh.SFTPClient) -> None:
            # SFTP pipelines requests, so the removals go out together.
            async with asyncio.TaskGroup() as group:
                for path in paths:
                    group.create_task(remove_one(sftp, path))
        await self._call("delete", paths[0].parent, remove)

    async def close(self) -> None:
        conn, self._conn, self._sftp = self._conn, None, None
        if conn is not None:
            conn.close()
            with contextlib.suppress(Exception):
                await conn.wait_closed()

    async def _rename_over(self, sftp: asyncssh.SFTPClient, temp: PurePosixPath,
                           target: PurePosixPath) -> None:
        if self._posix_rename:
            try:
                await sftp.posix_rename(temp, target)
                return
            except asyncssh.SFTPOpUnsupported:
                self._posix_rename = False
                self._log.warning("sftp server lacks posix-rename; playlists are replaced "
                                  "by remove + rename, with a moment without the file")
        with contextlib.suppress(asyncssh.SFTPNoSuchFile):
            await sftp.remove(target)
        await sftp.rename(temp, target)

    @staticmethod
    async def _noop(sftp: asyncssh.SFTPClient) -> None:
        return None

    async def _call(self, action: str, path: PurePosixPath,
                    op: Callable[[asyncssh.SFTPClient], Awaitable[T]]) -> T:
        """Run `op` on the shared client; reconnect once if the connection turns out dead."""
        for attempt in (1, 2):
            sftp, reused = await self._client(action, path)
            try:
                return await op(sftp)
            except BaseException as exc:
                lost = _connection_lost(exc) or (
                    isinstance(exc, BaseExceptionGroup)
                    and exc.subgroup(_connection_lost) is not None)
                if lost:
                    self._forget(sftp)
                    if reused and attempt == 1:
                        self._log.info("sftp connection lost, reconnecting",
                                       error=self._detail(exc))
                        continue
                if isinstance(exc, BaseExceptionGroup):
                    exc = exc.exceptions[0]
                if isinstance(exc, asyncssh.Error | OSError):
                    raise self._error(action, path, exc) from None
                raise
        raise AssertionError("unreachable")

    async def _client(self, action: str, path: PurePosixPath) -> tuple[asyncssh.SFTPClient, bool]:
        async with self._connecting:  # concurrent callers share one connection attempt
            if self._sftp is not None:
                return self._sftp, True
            profile = self._profile
            known_hosts = self._known_hosts(action, path)
            password = profile.password.reveal() if profile.password is not None else None
            try:
                conn = await asyncssh.connect(
                    profile.remote_host, profile.port, username=profile.user_name,
                    password=password, known_hosts=known_hosts,
                    client_keys=[str(profile.key_file)] if profile.key_file else (),
                    connect_timeout=CONNECT_TIMEOUT, keepalive_interval=KEEPALIVE_INTERVAL,
                    keepalive_count_max=KEEPALIVE_COUNT_MAX)
            except (asyncssh.Error, OSError, ValueError) as exc:
                raise self._error(action, path, exc, stage=self._connect_stage(exc)) from None
            try:
                sftp = await conn.start_sftp_client()
            except BaseException as exc:
                conn.close()
                if isinstance(exc, asyncssh.Error | OSError):
                    raise self._error(action, path, exc, stage="start sftp: ") from None
                raise
            self._conn, self._sftp = conn, sftp
            self._log.debug("sftp connected", url=self._where)
            return sftp, False

    def _known_hosts(self, action: str, path: PurePosixPath) -> KnownHosts:
        profile = self._profile
        if profile.insecure_skip_host_key_check:
            if not self._warned_insecure:
                self._warned_insecure = True
                self._log.warning("sftp host key verification is OFF "
                                  "(insecure_skip_host_key_check); anyone on the network "
                                  "path can impersonate the server", url=self._where)
            return None
        if profile.host_key:
            try:
                key = asyncssh.import_public_key(profile.host_key)
            except (asyncssh.KeyImportError, ValueError) as exc:
                raise self._error(action, path, exc, stage="host_key: ") from None
            # (trusted host keys, trusted CA keys, revoked keys): the pin, whatever the name.
            return ([key], [], [])
        known = profile.known_hosts or DEFAULT_KNOWN_HOSTS.expanduser()
        if not known.is_file():
            raise TransferError(
                f"{self.name}: {action} {path} at {self._where} failed: cannot verify the "
                f"host key: {known} does not exist (set known_hosts or host_key)")
        return str(known)

    @staticmethod
    def _connect_stage(exc: BaseException) -> str:
        if isinstance(exc, asyncssh.HostKeyNotVerifiable):
            return "host key NOT trusted (check known_hosts / host_key): "
        if isinstance(exc, asyncssh.PermissionDenied):
            return "authentication failed: "
        return "connect: "

    def _forget(self, sftp: asyncssh.SFTPClient) -> None:
        # Only the connection that failed: a concurrent caller may already have a new one.
        if self._sftp is sftp and self._conn is not None:
            self._conn.close()
            self._conn, self._sftp = None, None

    def _detail(self, exc: BaseException) -> str:
        text = str(exc).strip()
        password = self._profile.password.reveal() if self._profile.password else ""
        if password:  # no library puts it in a message, but errors are logged verbatim
            text = text.replace(password, "***")
        return f"{type(exc).__name__}: {text}" if text else type(exc).__name__

    def _error(self, action: str, path: PurePosixPath, exc: BaseException,
               stage: str = "") -> TransferError:
        # `from None` at the raise sites keeps the library's exception out of tracebacks;
        # its text, scrubbed, is in the message.
        return TransferError(f"{self.name}: {action} {path} at {self._where} failed: "
                             f"{stage}{self._detail(exc)}")
