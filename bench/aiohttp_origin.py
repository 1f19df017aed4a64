"""`hlsd run` with the LL-HLS origin as it was before the fast path: the incumbent that
bench/origin.py --incumbent measures beside it.

    python bench/aiohttp_origin.py run CONFIG

The same daemon in every other way; only its socket is aiohttp's own, as for a regular
origin: every request, blocking playlist reloads and parts included, goes through aiohttp's
per-request machinery to hlsd.serve.llhttp (each blocked request waits on LiveEdge.wait and
gets a response of its own). The fast path (hlsd.serve.front, hlsd.serve.fastpath) is what
replaced this: one response rendered per part, written to every waiting player.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hlsd.cli import main
from hlsd.serve import front, http
from hlsd.serve.fastpath import FastLive


class AiohttpOnly:
    """In place of hlsd.serve.front.Front: aiohttp's protocol for every connection."""

    def __init__(self, live: FastLive, handoff: Callable[[], asyncio.Protocol]) -> None:
        live.close()  # it subscribed to the live edge: nothing of it is used here
        self._protocol = handoff
        self._server: asyncio.Server | None = None

    async def start(self, host: str, port: int) -> int:
        # Front's backlog, so that both meet a thousand players joining at once alike
        self._server = await asyncio.get_running_loop().create_server(
            self._protocol, host or None, port, backlog=front.BACKLOG, reuse_address=True)
        return int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._server is not None:  # its connections: aiohttp's runner closes them next
            self._server.close()


if __name__ == "__main__":
    if http.Front is not front.Front:  # pragma: no cover - hlsd.serve.http changed
        raise SystemExit("bench/aiohttp_origin.py: hlsd.serve.http no longer uses Front")
    http.Front = AiohttpOnly  # type: ignore[misc, assignment]
    sys.exit(main())
