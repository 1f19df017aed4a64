"""What the FTP and SFTP backends share: hidden temporary names for atomic replacement,
and error messages that name the place and never carry the password."""

from __future__ import annotations

import secrets
from pathlib import PurePosixPath

from hlsd.publish.transfer.base import TransferError


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
