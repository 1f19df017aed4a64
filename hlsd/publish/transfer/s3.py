"""S3 (and S3-compatible) destination, via aiobotocore.

Object key = ``key_prefix + name``, concatenated as a plain string as the original
tool did: ``live/`` gives ``live/live.m3u8``, while ``live-`` gives ``live-live.m3u8``
(no ``/`` is ever inserted). Without ``aws_api_key``/``aws_api_secret`` the standard
AWS credential chain applies (environment, shared config/profile, instance role).

Every library failure leaves as TransferError whose text names the operation, bucket,
key and error code, and never a credential: messages are also scrubbed of the
configured key and secret, and the library exception is not chained (its attributes
may hold request details).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator, Sequence
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import aiohttp
import structlog
from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession, get_session
from botocore.exceptions import BotoCoreError, ClientError

from hlsd.config import S3Profile
from hlsd.publish.transfer.base import (
    CONTENT_TYPES,
    KEY_CACHE_CONTROL,
    PLAYLIST_CONTENT_TYPE,
    SEGMENT_CONTENT_TYPE,
    TransferError,
    content_type,
)

# The uploader above retries with its own backoff, so botocore gets one retry at most
# and short timeouts: a dead endpoint must surface in seconds, not minutes.
TOTAL_MAX_ATTEMPTS = 2
CONNECT_TIMEOUT = 3.0
READ_TIMEOUT = 5.0  # waiting for a reply; S3 answers a stored PUT well within this
DELETE_BATCH = 1000  # DeleteObjects accepts at most 1000 keys per request
_FAILURES = (BotoCoreError, ClientError, aiohttp.ClientError, OSError, TimeoutError)
# Library loggers whose DEBUG records print request headers (the Authorization header
# names the access key id) or response bodies (an auth error may echo it).
_CHATTY_LOGGERS = ("botocore.endpoint", "botocore.parsers", "botocore.auth",
                   "aiobotocore.endpoint", "aiobotocore.parsers")


class _RedactCredentials(logging.Filter):
    """Replaces configured credentials in library log records, should DEBUG be enabled.

    A logger's filters only run for records it would emit, so this costs nothing at
    the usual levels.
    """

    def __init__(self) -> None:
        super().__init__()
        self.values: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if self.values:
            try:
                text = record.getMessage()
            except Exception:  # a malformed record is the handler's to report, not ours
                return True
            if any(v in text for v in self.values):
                for value in self.values:
                    text = text.replace(value, "***")
                record.msg, record.args = text, None
        return True


_REDACT = _RedactCredentials()
for _name in _CHATTY_LOGGERS:
    logging.getLogger(_name).addFilter(_REDACT)


class S3Transfer:
    """Publishes to one bucket with one long-lived client (connection pool reused)."""

    def __init__(self, profile: S3Profile, *, session: AioSession | None = None) -> None:
        # `session` is a seam: tests (or a daemon sharing one session) can pass their own.
        self.name = profile.name
        self._profile = profile
        self._session = session
        self._stack: AsyncExitStack | None = None
        self._client: Any = None
        self._log = structlog.get_logger(__name__).bind(destination=profile.name)

    async def open(self) -> None:
        p = self._profile
        config = AioConfig(
            s3={"addressing_style": p.addressing_style},
            retries={"mode": "standard", "total_max_attempts": TOTAL_MAX_ATTEMPTS},
            connect_timeout=CONNECT_TIMEOUT,
            read_timeout=READ_TIMEOUT,
            max_pool_connections=max(10, p.concurrency),
            # botocore's default CRC trailers on every PUT are rejected by several
            # S3-compatible stores; with an endpoint_url only send them where required.
            **({"request_checksum_calculation": "when_required",
                "response_checksum_validation": "when_required"} if p.endpoint_url else {}),
        )
        keys: dict[str, str] = {}
        if p.aws_api_key is not None and p.aws_api_secret is not None:
            keys = {"aws_access_key_id": p.aws_api_key.reveal(),
                    "aws_secret_access_key": p.aws_api_secret.reveal()}
            _REDACT.values.update(v for v in keys.values() if v)
        await self.close()
        stack = AsyncExitStack()
        op = "connect"
        try:
            session = self._session or get_session()
            client = await stack.enter_async_context(session.create_client(
                "s3", region_name=p.region, endpoint_url=p.endpoint_url, config=config,
                **keys))
            op = "check bucket"
            await client.head_bucket(Bucket=p.bucket_name)
        except (*_FAILURES, ValueError) as exc:  # ValueError: e.g. a malformed endpoint_url
            await stack.aclose()
            raise self._error(op, None, exc) from None
        except BaseException:  # cancelled: still release the connection pool
            await stack.aclose()
            raise
        self._stack, self._client = stack, client
        self._log.info("s3 destination open", bucket=p.bucket_name, key_prefix=p.key_prefix,
                       endpoint=p.endpoint_url or "aws", region=p.region,
                       credentials="config" if keys else "default chain")

    async def put_segment(self, local: Path, name: str) -> None:
        key = self._key(name)
        try:
            # Segments are a few MB: read them whole, off the event loop, so a retry
            # inside botocore can resend the body.
            body = await asyncio.to_thread(local.read_bytes)
        except OSError as exc:
            raise TransferError(f"s3 put s3://{self._profile.bucket_name}/{key}: cannot read "
                                f"{local}: {exc.strerror}") from None
        await self._put(key, body, content_type(name) or SEGMENT_CONTENT_TYPE,
                        self._profile.segment_cache_control)

    async def put_playlist(self, data: bytes, name: str) -> None:
        # A PUT replaces the object atomically: readers see the old or the new playlist.
        await self._put(self._key(name), data, content_type(name) or PLAYLIST_CONTENT_TYPE,
                        self._profile.playlist_cache_control)

    async def put_key(self, data: bytes, name: str) -> None:
        await self._put(self._key(name), data, CONTENT_TYPES[".key"], KEY_CACHE_CONTROL)

    async def delete(self, names: Sequence[str]) -> None:
        client = self._require_open()
        keys = list(dict.fromkeys(self._key(n) for n in names))
        if not keys:
            return  # DeleteObjects rejects an empty list
        failed: list[str] = []
        for batch in _batches(keys, DELETE_BATCH):
            try:
                # Quiet: the response lists only failures, not every deleted key.
                reply = await client.delete_objects(
                    Bucket=self._profile.bucket_name,
                    Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True})
            except _FAILURES as exc:
                raise self._error("delete", f"{batch[0]} (+{len(batch) - 1} more)",
                                  exc) from None
            failed += [f"{e.get('Key')} ({e.get('Code')})" for e in reply.get("Errors", [])
                       if e.get("Code") != "NoSuchKey"]  # already gone is what we want
        if failed:
            shown = ", ".join(failed[:5]) + (f" and {len(failed) - 5} more" if failed[5:] else "")
            raise TransferError(self._scrub(
                f"s3 delete in bucket {self._profile.bucket_name}: {len(failed)} of "
                f"{len(keys)} keys not deleted: {shown}"))
        self._log.debug("s3 deleted", count=len(keys))

    async def close(self) -> None:
        stack, self._stack, self._client = self._stack, None, None
        if stack is None:
            return
        try:
            await stack.aclose()
        except Exception as exc:  # closing must never raise; the pool is gone either way
            self._log.debug("s3 close failed", error=type(exc).__name__)

    async def _put(self, key: str, body: bytes, content_type: str, cache_control: str) -> None:
        client = self._require_open()
        extra = {"ACL": self._profile.acl} if self._profile.acl else {}
        try:
            await client.put_object(Bucket=self._profile.bucket_name, Key=key, Body=body,
                                    ContentType=content_type, CacheControl=cache_control,
                                    **extra)
        except _FAILURES as exc:
            raise self._error("put", key, exc) from None
        self._log.debug("s3 put", key=key, bytes=len(body))

    def _key(self, name: str) -> str:
        return self._profile.key_prefix + name

    def _require_open(self) -> Any:
        if self._client is None:
            raise TransferError(f"s3 destination {self.name} is not open")
        return self._client

    def _error(self, op: str, key: str | None, exc: BaseException) -> TransferError:
        """A message naming what failed and why, in terms an operator can act on."""
        bucket = self._profile.bucket_name
        where = f"s3://{bucket}/{key}" if key else f"bucket {bucket}"
        if isinstance(exc, ClientError):
            err = exc.response.get("Error", {})
            code = str(err.get("Code") or exc.response.get(
                "ResponseMetadata", {}).get("HTTPStatusCode", "?"))
            detail = {"404": "bucket does not exist", "NoSuchBucket": "bucket does not exist",
                      "403": "access denied (check the credentials and bucket policy)",
                      "301": "bucket is in another region (set region)",
                      }.get(code, str(err.get("Message") or ""))
            why = f"{code}: {detail}" if detail else code
        else:
            why = f"{type(exc).__name__}: {exc}"
        return TransferError(self._scrub(f"s3 {op} {where}: {why}"))

    def _scrub(self, text: str) -> str:
        """Belt and braces: no server echo or library message may carry a credential."""
        for secret in (self._profile.aws_api_key, self._profile.aws_api_secret):
            if secret is not None and secret.reveal():
                text = text.replace(secret.reveal(), "***")
        return text


def _batches(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
