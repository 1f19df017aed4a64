"""The cache tiers bench/origin.py puts in front of the origin, run as the tests run them
(tests/fixtures): nginx with etc/nginx/hlsd-cache.conf, Varnish with etc/varnish/hlsd.vcl.
Each says where players connect, which processes are its own (for their CPU) and which
requests it sent to the origin, when."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Protocol

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fixtures.nginx_cache import NginxCache
from tests.fixtures.varnish_cache import VarnishCache


class Shield(Protocol):
    name: str

    @property
    def url(self) -> str: ...

    def pids(self) -> list[int]: ...

    def origin_uris(self, start: float, until: float) -> list[str]:
        """The requests (path and query) it sent to the origin between two wall times."""

    def notes(self) -> str:
        """What it says about its run (printed to stderr)."""

    def stop(self) -> None: ...


class _Shield:
    """What the benchmark asks of a cache in front of the origin; `cache` is its test
    fixture (NginxCache, VarnishCache)."""

    cache: NginxCache | VarnishCache

    @property
    def url(self) -> str:
        return self.cache.url

    def pids(self) -> list[int]:
        return self.cache.pids()

    def stop(self) -> None:
        self.cache.stop()


class NginxShield(_Shield):
    name = "nginx"
    cache: NginxCache

    def __init__(self, origin_port: int, workdir: Path, players: int,
                 lock_age: str | None) -> None:
        changes = {} if lock_age is None else {
            "proxy_cache_lock_age 20s;": f"proxy_cache_lock_age {lock_age};"}
        self.cache = NginxCache(origin_port, workdir, connections=2 * players + 512,
                                changes=changes)
        self.cache.start()

    def origin_uris(self, start: float, until: float) -> list[str]:
        return [e.uri for e in self.cache.logged() if e.upstream and start <= e.at <= until]

    def notes(self) -> str:
        return self.cache.errors()[-500:] or "no errors logged"


NOTED = ("client_req", "cache_hit", "cache_miss", "backend_req", "threads", "threads_created",
         "threads_limited", "thread_queue_len", "sess_queued", "sess_dropped", "req_dropped",
         "busy_sleep", "busy_wakeup")


class VarnishShield(_Shield):
    name = "varnish"
    cache: VarnishCache

    def __init__(self, origin_port: int, workdir: Path, params: dict[str, str]) -> None:
        self.cache = VarnishCache(origin_port, workdir, params=params, memory="256m")
        self.cache.start()

    def origin_uris(self, start: float, until: float) -> list[str]:
        return [r.uri for r in self.cache.origin_requests() if start <= r.at <= until]

    def notes(self) -> str:
        """Counters that tell whether it ran short of threads or dropped anyone."""
        stats = self.cache.stats()
        return ", ".join(f"{name}={stats.get('MAIN.' + name, '?')}" for name in NOTED)
