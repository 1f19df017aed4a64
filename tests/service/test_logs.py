"""Libraries' `logging` records reach the operator as hlsd's own log lines: one line each,
redacted, never a traceback."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from hlsd.config import HttpSettings
from hlsd.serve.http import HttpOrigin
from hlsd.service import logs
from tests.fixtures.status import StaticStatus


@pytest.fixture
def out() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    logs.configure("INFO", "STDOUT", stream=stream)
    try:
        yield stream
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        structlog.reset_defaults()


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


async def test_a_malformed_request_is_one_warning_line(out: io.StringIO) -> None:
    http = HttpOrigin(HttpSettings(listen="127.0.0.1", port=0), None, StaticStatus())
    await http.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", http.port)
        writer.write(b"GET / HTTP/1.1\r\nBad Header\r\n\r\n")
        async with asyncio.timeout(10):
            assert (await reader.read()).split(b" ", 2)[1] == b"400"
        writer.close()
    finally:
        await http.stop()
    assert "Traceback" not in out.getvalue()
    [line] = [e for e in lines(out) if e.get("logger") == "aiohttp.server"]
    assert line["level"] == "warning" and line["error"].startswith("BadHttpMessage: 400")


def test_library_lines_are_redacted_and_keep_their_level(out: io.StringIO) -> None:
    logging.getLogger("asyncssh").info("below the threshold")
    try:
        raise ConnectionError("refused\nby peer")
    except ConnectionError:
        logging.getLogger("botocore").error("upload to https://key:s3cr3t@host failed",
                                            exc_info=True)
    [line] = lines(out)
    assert line["level"] == "error" and line["logger"] == "botocore"
    assert line["error"] == "ConnectionError: refused by peer"
    assert "s3cr3t" not in out.getvalue() and "Traceback" not in out.getvalue()
