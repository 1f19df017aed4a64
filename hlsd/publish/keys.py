"""The stream's AES-128 keys: one per key period (`key_rotation` segments, the same
sequence numbers on every rung), each published to the key destinations before any
playlist names a segment encrypted with it, and deleted there once no listed or
fetchable segment can need it. Random keys and IVs, or, with `key_seed`, derived ones
(hlsd.publish.keyseed): then key number = key period, whatever the state file says."""

from __future__ import annotations

import asyncio
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from hlsd import config as cfg
from hlsd.media.playlist import Entry
from hlsd.media.retention import Retention
from hlsd.publish import transfer
from hlsd.publish.expiry import Expiry
from hlsd.publish.keyfile import KeyFile
from hlsd.publish.keyseed import KeySeed
from hlsd.publish.retry import Retrier

log = structlog.get_logger()

KEY_BYTES = 16
KEY_MODE = 0o600


@dataclass
class KeyState:
    """What a restart needs: the next key's number (names are never reused), and each key
    destination's pending deletions."""

    next_index: int = 0
    retention: dict[str, Retention] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"next_index": self.next_index,
                "retention": {n: r.to_dict() for n, r in self.retention.items()}}

    @classmethod
    def from_json(cls, data: Any) -> KeyState:
        if not isinstance(data, dict) or not isinstance(data.get("next_index", 0), int):
            raise ValueError("key state malformed")
        pending = data.get("retention", {})
        if not isinstance(pending, dict):
            raise ValueError("key retention malformed")
        return cls(data.get("next_index", 0),
                   {str(n): Retention.from_dict(r) for n, r in pending.items()})


class KeyDestination:
    """One key_transfer_profile: stores keys (retrying) and deletes expired ones."""

    def __init__(self, profile: cfg.TransferProfile, retention: Retention | None) -> None:
        self.transfer = transfer.create(profile)
        self.name = profile.name
        self.retry = Retrier(self.name, profile.concurrency)
        self.expiry = Expiry(self.transfer, retention)
        self._opened = asyncio.Event()

    async def run(self) -> None:
        try:
            await self.retry(self.transfer.open, "connect")
            self._opened.set()
            await self.expiry.run()
        finally:
            await self.transfer.close()

    async def store(self, key: KeyFile) -> None:
        await self._opened.wait()
        material = key.material()
        await self.retry(lambda: self.transfer.put_key(material, key.name), "key")


class KeyRing:
    """Makes, publishes and retires the keys. `horizon` is how many segments after its
    last use a key may still be listed somewhere (a lagging destination catching up);
    `grace` the seconds a client may still fetch it after that (0 horizon: keep all)."""

    def __init__(self, settings: cfg.EncryptionSettings, directory: Path, prefix: str,
                 state: KeyState, horizon: int, grace: float) -> None:
        self.settings = settings
        self.directory = directory
        self.prefix = prefix
        self.destinations = [KeyDestination(p, state.retention.get(p.name))
                             for p in settings.key_transfer_profiles]
        self._seed = None if settings.key_seed is None else KeySeed(settings.key_seed)
        self._next_index = state.next_index
        self._horizon = horizon
        self._grace = grace
        # Live keys by key period, oldest first. By period, not "the current one": rungs
        # report independently, so a late rung may still need the previous period's key.
        self._keys: dict[int, KeyFile] = {}
        self._unpublished: asyncio.Queue[KeyFile] = asyncio.Queue()

    def state(self) -> KeyState:
        return KeyState(self._next_index,
                        {d.name: d.expiry.retention for d in self.destinations})

    def key_for(self, seq: int) -> KeyFile:
        """The key segment `seq` is encrypted with (all rungs alike)."""
        rotation = self.settings.key_rotation
        period = seq // rotation if rotation else 0
        key = self._keys.get(period)
        if key is None:
            key = self._keys[period] = self._new_key(period)
        key.last_seq = max(key.last_seq, seq)
        self._retire(seq)
        return key

    def iv_for(self, key: KeyFile, rung: str, seq: int) -> str:
        """The IV (hex) of segment `seq` of `rung`: random, or derived from the seed. Never
        the sequence number alone: one key serves every rung, so IVs from sequence numbers
        would repeat a (key, IV) pair across rungs."""
        if self._seed is None:
            return secrets.token_hex(16)
        return self._seed.iv(key.index, rung, seq).hex()

    def _new_key(self, period: int) -> KeyFile:
        if self._seed is None:
            index, self._next_index = self._next_index, self._next_index + 1
            # The random part keeps a name from ever meaning two keys, even after a lost
            # state.
            name = f"{self.prefix}-{index:05d}-{secrets.token_hex(4)}.key"
            material = secrets.token_bytes(KEY_BYTES)
        else:
            # Every host with the seed names and derives key `period` alike; a name from
            # an earlier run (a restart) holds these very bytes, so it may be written over.
            index, self._next_index = period, max(self._next_index, period + 1)
            name = f"{self.prefix}-{index:05d}-{self._seed.name_tag(index)}.key"
            material = self._seed.key(index)
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = self.directory / name
        once = os.O_EXCL if self._seed is None else os.O_TRUNC
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | once, KEY_MODE)
        with os.fdopen(fd, "wb") as fh:
            fh.write(material)
        key = KeyFile(index, name, path, self.settings.key_url_prefix + name, material)
        self._unpublished.put_nowait(key)
        log.info("new encryption key", key=index, name=name)
        return key

    def _retire(self, seq: int) -> None:
        if not self._horizon:
            return
        while len(self._keys) > 1:
            period, old = next(iter(self._keys.items()))
            if old.last_seq + self._horizon >= seq:
                return
            del self._keys[period]
            old.path.unlink(missing_ok=True)
            for dest in self.destinations:
                dest.expiry.schedule([Entry(seq=old.index, name=old.name, duration=0.0)],
                                     self._grace)

    async def run(self) -> None:
        """Publish each new key to every key destination, in order, until cancelled."""
        async with asyncio.TaskGroup() as tg:
            for dest in self.destinations:
                tg.create_task(dest.run(), name=f"key destination {dest.name}")
            while True:
                key = await self._unpublished.get()
                await asyncio.gather(*(d.store(key) for d in self.destinations))
                key.published.set()
                log.info("encryption key published", key=key.index,
                         destinations=[d.name for d in self.destinations])
