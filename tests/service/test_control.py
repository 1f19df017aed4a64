"""The control socket (hlsd.service.control) with a CueDesk and no pipeline: the answer
comes once a segment opened the break; a cue that waits too long is withdrawn."""

from __future__ import annotations

import asyncio
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hlsd.publish.cues import CueDesk
from hlsd.service.control import ControlError, send_cue, serve_control
from tests.daemon_util import until

T0 = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)


async def test_a_cue_is_answered_when_its_segment_comes(tmp_path: Path) -> None:
    """1. the socket appears, mode 0600
    2. `send_cue` (in a thread, as the CLI) waits; segment 0 comes: the answer names
       the ID, START-DATE = segment 0's date, and the segment
    3. the same ID again: refused, with the reason"""
    desk, path = CueDesk(("daterange",), wait=10), tmp_path / "control.sock"
    server = asyncio.create_task(serve_control(path, desk))
    await until(path.exists)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    asking = asyncio.create_task(asyncio.to_thread(send_cue, path, 6.0, "ad-1", 10.0))
    await until(lambda: desk.waiting == 1)
    assert desk.marks(0, T0, 0)
    reply = await asking
    assert reply == {"ok": True, "id": "ad-1", "start_date": "2026-12-06T10:00:00.000Z",
                     "seq": 0}
    with pytest.raises(ControlError, match="exists already"):
        await asyncio.to_thread(send_cue, path, 6.0, "ad-1", 10.0)
    server.cancel()
    await asyncio.gather(server, return_exceptions=True)
    assert not path.exists()


async def test_no_segment_in_time_withdraws_the_cue(tmp_path: Path) -> None:
    desk, path = CueDesk(("daterange",), wait=0.2), tmp_path / "control.sock"
    server = asyncio.create_task(serve_control(path, desk))
    await until(path.exists)
    with pytest.raises(ControlError, match=r"no segment came within 0\.2 s"):
        await asyncio.to_thread(send_cue, path, 6.0, "ad-1", 10.0)
    assert desk.marks(0, T0, 0) == ()  # never opens later
    server.cancel()
    await asyncio.gather(server, return_exceptions=True)


def test_no_daemon(tmp_path: Path) -> None:
    with pytest.raises(ControlError, match="no hlsd daemon runs"):
        send_cue(tmp_path / "control.sock", 6.0, None, 1.0)


async def test_a_request_past_the_line_limit_or_not_json_is_no_crash(tmp_path: Path) -> None:
    """A line longer than the reader's limit gets no answer; bad JSON a reason; the
    socket serves the next client as before."""
    desk, path = CueDesk(("daterange",), wait=0.2), tmp_path / "control.sock"
    server = asyncio.create_task(serve_control(path, desk))
    await until(path.exists)
    for junk in (b"x" * 100_000 + b"\n", b"{not json\n"):
        reader, writer = await asyncio.open_unix_connection(str(path))
        writer.write(junk)
        answer = await reader.read()
        writer.close()
        assert answer == b"" or b'"ok": false' in answer
    with pytest.raises(ControlError, match="no segment came"):
        await asyncio.to_thread(send_cue, path, 6.0, "ad-2", 10.0)
    assert not server.done()
    server.cancel()
    await asyncio.gather(server, return_exceptions=True)
