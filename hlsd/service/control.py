"""The control socket: `hlsd cue` reaches the running daemon through a Unix socket in
temp_dir (`control.sock`, mode 0600: only the daemon's user may open a break). One JSON
line asks, one JSON line answers:

    → {"command": "cue", "duration": 6, "id": null}
    ← {"ok": true, "id": "hlsd-…", "start_date": "2026-12-06T10:00:21.000Z"}
    ← {"ok": false, "error": "…"}

The answer comes once the break opened on a segment boundary (its START-DATE known), or
with an error when no segment came in time (the break asked for is then withdrawn). The
request is checked and taken by CueDesk.take, as the admin listener's POST /cue is.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from pathlib import Path
from typing import Any

import structlog

from hlsd.publish.cues import CueDesk, CueRefused

log = structlog.get_logger()

SOCKET_NAME = "control.sock"
MAX_REQUEST = 4096  # bytes: one short JSON line


class ControlError(Exception):
    """No daemon answers, or it refused the request; the message says which."""


async def serve_control(path: Path, cues: CueDesk) -> None:
    """Serves until cancelled."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()  # left by a daemon that did not stop cleanly

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await asyncio.wait_for(reader.readline(), 5.0)
            reply = await _handle(line[:MAX_REQUEST], cues)
            writer.write(json.dumps(reply).encode() + b"\n")
            await writer.drain()
        except (OSError, TimeoutError, ValueError):
            pass  # the client went away, or sent a line past any limit: nothing to answer
        finally:
            writer.close()

    try:
        server = await asyncio.start_unix_server(answer, path=str(path))
        path.chmod(0o600)
    except OSError as exc:  # e.g. a path longer than a socket address allows
        log.error("no control socket: hlsd cue cannot reach this daemon", path=str(path),
                  error=exc.strerror or str(exc))
        return
    try:
        async with server:
            await server.serve_forever()
    finally:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


async def _handle(line: bytes, cues: CueDesk) -> dict[str, Any]:
    try:
        request = json.loads(line)
    except ValueError as exc:  # JSONDecodeError, or bytes that are no text
        return {"ok": False, "error": str(exc)}
    if not isinstance(request, dict) or request.get("command") != "cue":
        return {"ok": False, "error": "the only command is cue"}
    try:
        return {"ok": True, **await cues.take(request.get("duration"), request.get("id"))}
    except CueRefused as exc:
        return {"ok": False, "error": str(exc)}


def send_cue(path: Path, duration: float, ident: str | None, wait: float) -> dict[str, Any]:
    """Asks the daemon behind `path` for a break; its answer (ok true), else ControlError."""
    request = json.dumps({"command": "cue", "duration": duration, "id": ident}).encode()
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(wait)
            sock.connect(str(path))
            sock.sendall(request + b"\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
    except (FileNotFoundError, ConnectionRefusedError):
        raise ControlError(f"no hlsd daemon runs for this config (nothing listens on "
                           f"{path})") from None
    except TimeoutError:
        raise ControlError(f"the daemon did not answer within {wait:g} s") from None
    except OSError as exc:
        raise ControlError(f"{path}: {exc.strerror or exc}") from None
    try:
        reply = json.loads(data)
    except ValueError:
        raise ControlError("the daemon closed the connection without an answer") from None
    if not isinstance(reply, dict) or not reply.get("ok"):
        error = reply.get("error") if isinstance(reply, dict) else None
        raise ControlError(f"the daemon refused the cue: {error or reply!r}")
    return reply
