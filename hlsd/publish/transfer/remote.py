"""What the FTP and SFTP backends share: hidden temporary names for atomic replacement,
and error messages that name the place and never carry the password."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from pathlib import PurePosixPath
from typing import Any, Generic, TypeVar

import structlog

from hlsd.publish.transfer.base import TransferError

C = TypeVar("C")  # a backend's client (an FTP control connection, an SFTP client)
T = TypeVar("T")


def temp_name(name: str) -> str:
    """Hidden and unique, so concurrent replacements of one playlist never share it."""
    return f".{name}.{secrets.token_hex(4)}.tmp"


class RemoteErrors:
    """Builds a backend's TransferErrors: `profile: action path at url failed: why`."""

    def __init__(self, profile: str, where: str, password: str | None) -> None:
        self.profile = profile
        self.where = where
        self._password = password or ""

    def detail(self, exc: BaseException) -> str:
        """The exception's type and text, the password scrubbed out (servers should never
        echo it, but errors are logged verbatim)."""
        text = str(exc).strip()
        if self._password:
            text = text.replace(self._password, "***")
        return f"{type(exc).__name__}: {text}" if text else type(exc).__name__

    def error(self, action: str, path: PurePosixPath, exc: BaseException | str,
              stage: str = "") -> TransferError:
        # Raised `from None` by the callers: the library's exception (and anything it
        # might carry) stays out of tracebacks; its text, scrubbed, is in the message.
        why = exc if isinstance(exc, str) else self.detail(exc)
        return TransferError(f"{self.profile}: {action} {path} at {self.where} failed: "
                             f"{stage}{why}")


class RemoteDirectory(Generic[C]):
    """The part of a remote backend that is the same for FTP and SFTP: where it publishes
    (`directory` on `scheme://user@host:port`), how its errors read, and opening = logging
    in and creating the directory."""

    scheme = ""

    def __init__(self, name: str, directory: str, user: str, host: str, port: int,
                 password: str | None) -> None:
        self.name = name
        self._dir = PurePosixPath(directory)
        self._where = f"{self.scheme}://{user}@{host}:{port}"
        self._errors = RemoteErrors(name, self._where, password)
        self._log = structlog.get_logger().bind(destination=name)

    async def open(self) -> None:
        if str(self._dir) in ("/", "."):
            await self._call("log in", self._dir, _noop)
        else:
            await self._call("create directory", self._dir, self._make_directory)
        self._log.info(f"{self.scheme} destination ready", url=self._where,
                       directory=str(self._dir))

    async def _make_directory(self, client: C) -> None:
        raise NotImplementedError

    async def _call(self, action: str, path: PurePosixPath,
                    op: Callable[[C], Awaitable[T]]) -> T:
        raise NotImplementedError


async def _noop(client: Any) -> None:
    return None
