"""structlog setup: key=value on a TTY, JSON lines otherwise; secrets never printed."""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any, TextIO

import structlog

from hlsd.config.secret import SECRET_KEYS, redact_text

LEVELS = {"DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARN": logging.WARNING,
          "ERROR": logging.ERROR}

def redact(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key, value in event.items():
        if key in SECRET_KEYS and value is not None:
            event[key] = "***"
        elif isinstance(value, str) and "@" in value:
            event[key] = redact_text(value)
    return event


class ReopeningFile:
    """A log file that follows logrotate: reopened when its path names another inode."""

    CHECK_EVERY = 1.0  # seconds between stat() calls

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh: TextIO | None = None
        self._ino = -1
        self._checked = 0.0
        self._open()

    def _open(self) -> None:
        if self._fh is not None:
            self._fh.close()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
        self._fh = os.fdopen(fd, "a", encoding="utf-8", buffering=1)
        self._ino = os.fstat(fd).st_ino
        self._checked = time.monotonic()

    def write(self, text: str) -> int:
        now = time.monotonic()
        if now - self._checked > self.CHECK_EVERY:
            self._checked = now
            try:
                moved = os.stat(self.path).st_ino != self._ino
            except FileNotFoundError:
                moved = True
            if moved:
                self._open()
        assert self._fh is not None
        return self._fh.write(text)

    def flush(self) -> None:
        if self._fh is not None:
            self._fh.flush()


def configure(level: str = "INFO", log_type: str = "STDOUT", log_file: Path | None = None,
              stream: TextIO | None = None) -> None:
    """(Re)configure logging; safe to call again on reload."""
    out: Any = stream if stream is not None else sys.stdout
    if log_type == "FILE" and log_file is not None:
        out = ReopeningFile(log_file)
    tty = hasattr(out, "isatty") and out.isatty()
    renderer: Any = (structlog.dev.ConsoleRenderer(colors=False) if tty
                     else structlog.processors.JSONRenderer())
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(LEVELS.get(level, logging.INFO)),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, LibraryLogs)]:
        root.removeHandler(handler)
    root.addHandler(LibraryLogs())
    root.setLevel(logging.WARNING)


class LibraryLogs(logging.Handler):
    """What libraries log through `logging` (aiohttp, asyncssh, botocore) as hlsd's own
    lines, one each, redacted: the exception named, never a traceback. A client's
    malformed request (aiohttp's "Error handling request") is a warning, not an error:
    nothing the operator must fix."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            fields: dict[str, Any] = {"logger": record.name}
            level = record.levelname.lower()
            exc = record.exc_info[1] if record.exc_info else None
            if exc is not None:
                fields["error"] = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
                if type(exc).__module__ == "aiohttp.http_exceptions":
                    level = "warning"
            if level not in ("debug", "info", "warning", "error", "critical"):
                level = "warning"
            getattr(structlog.get_logger(), level)(record.getMessage(), **fields)
        except Exception:  # a logging failure must not break the caller
            self.handleError(record)
