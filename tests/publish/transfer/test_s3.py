"""S3Transfer against a real S3 API (moto server on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiobotocore.session import get_session
from botocore.exceptions import ClientError
from structlog.testing import capture_logs

from hlsd.config import Secret
from hlsd.publish.transfer import s3 as s3_module
from hlsd.publish.transfer.base import PLAYLIST_CONTENT_TYPE, SEGMENT_CONTENT_TYPE, TransferError
from hlsd.publish.transfer.s3 import S3Transfer
from tests.fixtures.s3_server import S3Server

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]
PLAYLIST = b"#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:4\n"


@pytest.fixture
async def opened(s3_server: S3Server) -> AsyncIterator[Callable[..., Any]]:
    """Factory: an opened S3Transfer for s3_server.profile(**overrides); closed at teardown."""
    made: list[S3Transfer] = []

    async def make(session: Any = None, **overrides: Any) -> S3Transfer:
        transfer = S3Transfer(s3_server.profile(**overrides), session=session)
        await transfer.open()
        made.append(transfer)
        return transfer

    yield make
    for transfer in made:
        await transfer.close()


@pytest.fixture
def segment(tmp_path: Path) -> Path:
    path = tmp_path / "seg.ts"
    path.write_bytes(b"\x47" + bytes(187) * 10)  # content is opaque to the backend
    return path


def closed_port() -> int:
    """A port on 127.0.0.1 with nothing listening (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_segment_and_playlist_are_stored_with_type_and_cache_headers(
        s3_server: S3Server, opened: Callable[..., Any], segment: Path) -> None:
    transfer = await opened()
    assert transfer.name == "s3"
    await transfer.put_segment(segment, "live_a-00001.ts")
    await transfer.put_playlist(PLAYLIST, "live_a.m3u8")

    seg = s3_server.head("live_a-00001.ts")
    assert seg["ContentType"] == SEGMENT_CONTENT_TYPE
    assert seg["CacheControl"] == "max-age=31536000, immutable"
    assert s3_server.read("live_a-00001.ts") == segment.read_bytes()
    pl = s3_server.head("live_a.m3u8")
    assert pl["ContentType"] == PLAYLIST_CONTENT_TYPE
    assert pl["CacheControl"] == "max-age=1"
    assert s3_server.read("live_a.m3u8") == PLAYLIST


async def test_the_steering_manifest_is_json_with_a_playlists_cache_lifetime(
        s3_server: S3Server, opened: Callable[..., Any]) -> None:
    """It changes with the config (a reload reorders the pathways), like a playlist."""
    transfer = await opened()
    await transfer.put_playlist(b'{"VERSION": 1}\n', "live-steering.json")
    manifest = s3_server.head("live-steering.json")
    assert (manifest["ContentType"], manifest["CacheControl"]) == (
        "application/json", "max-age=1")


async def test_fmp4_objects_and_keys_get_their_own_types_and_cache_headers(
        s3_server: S3Server, opened: Callable[..., Any], segment: Path) -> None:
    """CMAF segments and init segments are media (long-lived); a key is never cached."""
    transfer = await opened()
    await transfer.put_segment(segment, "live_a-00001.m4s")
    await transfer.put_segment(segment, "live_a-init-0a1b2c3d.mp4")
    await transfer.put_key(bytes(range(16)), "live-00000-0a1b2c3d.key")
    assert s3_server.head("live_a-00001.m4s")["ContentType"] == "video/iso.segment"
    init = s3_server.head("live_a-init-0a1b2c3d.mp4")
    assert (init["ContentType"], init["CacheControl"]) == (
        "video/mp4", "max-age=31536000, immutable")
    key = s3_server.head("live-00000-0a1b2c3d.key")
    assert (key["ContentType"], key["CacheControl"]) == (
        "application/octet-stream", "private, no-store")
    assert s3_server.read("live-00000-0a1b2c3d.key") == bytes(range(16))


async def test_cache_control_is_configurable_and_put_replaces(
        s3_server: S3Server, opened: Callable[..., Any], segment: Path) -> None:
    transfer = await opened(playlist_cache_control="no-cache",
                            segment_cache_control="public, max-age=600")
    await transfer.put_segment(segment, "a.ts")
    await transfer.put_segment(segment, "a.ts")  # idempotent
    await transfer.put_playlist(b"old", "a.m3u8")
    await transfer.put_playlist(PLAYLIST, "a.m3u8")
    assert s3_server.head("a.ts")["CacheControl"] == "public, max-age=600"
    assert s3_server.head("a.m3u8")["CacheControl"] == "no-cache"
    assert s3_server.read("a.m3u8") == PLAYLIST


async def test_acl_is_passed_through(
        s3_server: S3Server, opened: Callable[..., Any], segment: Path) -> None:
    public = await opened(acl="public-read")
    await public.put_segment(segment, "public.ts")
    await public.put_playlist(PLAYLIST, "public.m3u8")
    private = await opened()
    await private.put_playlist(PLAYLIST, "private.m3u8")

    def all_users_can_read(key: str) -> bool:
        grants = s3_server.client.get_object_acl(Bucket=s3_server.bucket, Key=key)["Grants"]
        return any(g["Grantee"].get("URI", "").endswith("/global/AllUsers")
                   and g["Permission"] == "READ" for g in grants)

    assert all_users_can_read("public.ts")
    assert all_users_can_read("public.m3u8")
    assert not all_users_can_read("private.m3u8")


@pytest.mark.parametrize(("prefix", "expected"), [
    ("live/channel1/", "live/channel1/x.m3u8"),
    ("cam1-", "cam1-x.m3u8"),  # no '/' inserted: a plain string prefix, as the original
    ("", "x.m3u8"),
])
async def test_key_prefix_is_prepended(
        s3_server: S3Server, opened: Callable[..., Any], prefix: str, expected: str) -> None:
    transfer = await opened(key_prefix=prefix)
    await transfer.put_playlist(PLAYLIST, "x.m3u8")
    await transfer.delete(["missing.ts"])
    assert s3_server.keys() == [expected]
    await transfer.delete(["x.m3u8"])
    assert s3_server.keys() == []


async def test_delete_of_more_than_1000_keys_is_split_into_batches(
        s3_server: S3Server, opened: Callable[..., Any]) -> None:
    """1. 1,203 names to delete; objects exist for some of them on both sides of the
       1,000 boundary (a missing key is fine, so not all need storing), plus one
       object outside the prefix;
    2. delete all 1,203 names in one call;
    3. DeleteObjects was called with 1,000 then 203 keys; only the outsider remains."""
    batch_sizes: list[int] = []
    session = get_session()
    session.register("provide-client-params.s3.DeleteObjects",
                     lambda params, **_: batch_sizes.append(len(params["Delete"]["Objects"])))
    transfer = await opened(session=session, key_prefix="p/")
    names = [f"live-{i:05d}.ts" for i in range(1203)]
    stored = [names[i] for i in (0, 1, 998, 999, 1000, 1001, 1202)]
    await asyncio.gather(*(transfer.put_playlist(b"x", n) for n in stored))
    s3_server.client.put_object(Bucket=s3_server.bucket, Key="keep.m3u8", Body=b"k")
    assert len(s3_server.keys("p/")) == len(stored)

    await transfer.delete(names)

    assert batch_sizes == [1000, 203]
    assert s3_server.keys() == ["keep.m3u8"]


async def test_deleting_missing_keys_is_not_an_error(
        s3_server: S3Server, opened: Callable[..., Any]) -> None:
    transfer = await opened()
    await transfer.put_playlist(PLAYLIST, "there.m3u8")
    await transfer.delete(["never-1.ts", "there.m3u8", "never-2.ts", "never-1.ts"])
    await transfer.delete([])
    assert s3_server.keys() == []


async def test_keys_the_store_refuses_to_delete_are_reported(
        s3_server: S3Server, opened: Callable[..., Any]) -> None:
    """1. a bucket policy denies deleting one object; another is free to go;
    2. delete both: the free one goes, the held one is named in the TransferError."""
    s3_server.client.put_bucket_policy(Bucket=s3_server.bucket, Policy=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:DeleteObject",
                       "Resource": f"arn:aws:s3:::{s3_server.bucket}/held.ts"}]}))
    transfer = await opened()
    await transfer.put_playlist(b"h", "held.ts")
    await transfer.put_playlist(b"f", "free.ts")

    with pytest.raises(TransferError) as err:
        await transfer.delete(["held.ts", "free.ts", "never-there.ts"])

    message = str(err.value)
    assert "held.ts (AccessDenied)" in message and "1 of 3 keys" in message
    assert "free.ts" not in message and s3_server.bucket in message
    assert s3_server.keys() == ["held.ts"]


async def test_without_keys_the_environment_credentials_are_used(
        s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """1. a profile without aws_api_key/aws_api_secret; AWS_ACCESS_KEY_ID etc. set;
    2. every request is signed with the environment's key id."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAFROMENVIRONMENT")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    signed_with: list[str] = []
    session = get_session()
    session.register("before-send.s3", lambda request, **_: signed_with.append(
        request.headers["Authorization"].decode()))
    transfer = S3Transfer(s3_server.profile(aws_api_key=None, aws_api_secret=None),
                          session=session)
    await transfer.open()
    try:
        await transfer.put_playlist(PLAYLIST, "env.m3u8")
    finally:
        await transfer.close()

    assert len(signed_with) == 2  # HeadBucket, PutObject
    assert all("Credential=AKIAFROMENVIRONMENT/" in auth for auth in signed_with)
    assert s3_server.keys() == ["env.m3u8"]


async def test_without_any_credentials_open_fails_clearly(s3_server: S3Server) -> None:
    transfer = S3Transfer(s3_server.profile(aws_api_key=None, aws_api_secret=None))
    with pytest.raises(TransferError, match="NoCredentialsError"):
        await transfer.open()


async def test_open_fails_clearly_for_a_missing_bucket(s3_server: S3Server) -> None:
    transfer = S3Transfer(s3_server.profile(bucket_name="no-such-bucket"))
    with pytest.raises(TransferError, match=r"no-such-bucket.*404: bucket does not exist"):
        await transfer.open()


async def test_use_before_open_is_a_transfer_error(
        s3_server: S3Server, segment: Path) -> None:
    transfer = S3Transfer(s3_server.profile())
    with pytest.raises(TransferError, match="not open"):
        await transfer.put_segment(segment, "a.ts")
    await transfer.close()  # harmless when never opened


async def test_unreadable_local_segment_is_a_transfer_error(
        opened: Callable[..., Any], tmp_path: Path) -> None:
    transfer = await opened()
    with pytest.raises(TransferError, match=r"s3://hlsd-test/gone\.ts: cannot read"):
        await transfer.put_segment(tmp_path / "gone.ts", "gone.ts")


async def test_wrong_endpoint_fails_fast(s3_server: S3Server) -> None:
    transfer = S3Transfer(s3_server.profile(endpoint_url=f"http://127.0.0.1:{closed_port()}"))
    started = time.monotonic()
    with pytest.raises(TransferError, match=r"hlsd-test.*EndpointConnectionError"):
        await transfer.open()
    assert time.monotonic() - started < 5


async def test_endpoint_that_never_answers_fails_within_the_timeouts(
        s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """1. a socket that listens but never answers (connections sit in the backlog);
    2. with a short read timeout, open() gives up after two attempts, not minutes."""
    monkeypatch.setattr(s3_module, "READ_TIMEOUT", 0.5)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        transfer = S3Transfer(s3_server.profile(endpoint_url=f"http://127.0.0.1:{port}"))
        started = time.monotonic()
        with pytest.raises(TransferError, match="Timeout"):
            await transfer.open()
        assert time.monotonic() - started < 5


async def test_outage_fails_fast_and_the_same_transfer_recovers(
        s3_server: S3Server, opened: Callable[..., Any], segment: Path) -> None:
    """1. open, publish a playlist;
    2. server stops: put_segment, put_playlist and delete each raise TransferError quickly;
    3. server returns on the same port: the same (still open) transfer works again."""
    transfer = await opened()
    await transfer.put_playlist(PLAYLIST, "a.m3u8")

    s3_server.stop()
    started = time.monotonic()
    with pytest.raises(TransferError, match=r"s3://hlsd-test/b\.ts"):
        await transfer.put_segment(segment, "b.ts")
    with pytest.raises(TransferError, match=r"s3://hlsd-test/a\.m3u8"):
        await transfer.put_playlist(PLAYLIST, "a.m3u8")
    with pytest.raises(TransferError, match="delete"):
        await transfer.delete(["a.m3u8"])
    assert time.monotonic() - started < 10

    s3_server.start()
    await transfer.put_segment(segment, "b.ts")
    assert s3_server.keys() == ["a.m3u8", "b.ts"]


async def test_credentials_never_appear_in_errors_or_logs(
        s3_server: S3Server, segment: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Checked: TransferError texts, hlsd's structlog events, and the libraries' own
    DEBUG logging (botocore prints request headers, which name the access key id)."""
    caplog.set_level(logging.DEBUG)
    key, secret = "AKIAHLSDSHOULDNOTLEAK", "s3cr3t/HLSD+shouldNOTleak"
    profile = s3_server.profile(aws_api_key=Secret(key), aws_api_secret=Secret(secret))
    errors: list[str] = []
    with capture_logs() as logs:
        transfer = S3Transfer(profile)
        await transfer.open()
        await transfer.put_segment(segment, "a.ts")
        await transfer.delete(["a.ts"])

        async def fails(attempt: Awaitable[None]) -> None:
            with pytest.raises(TransferError) as err:
                await attempt
            errors.extend([str(err.value), repr(err.value)])

        await fails(S3Transfer(dataclasses.replace(profile, bucket_name="nope")).open())
        s3_server.stop()
        await fails(transfer.put_playlist(PLAYLIST, "a.m3u8"))
        await fails(S3Transfer(profile).open())
        await transfer.close()
        s3_server.start()

    assert logs, "the backend logs its lifecycle"
    assert all(entry["destination"] == "s3" for entry in logs)
    assert any(r.name == "botocore.endpoint" for r in caplog.records)
    assert "404" in errors[0] and "EndpointConnectionError" in errors[2] + errors[4]
    text = repr(logs) + "\n".join(errors) + caplog.text
    assert key not in text
    assert secret not in text


def test_scrub_removes_credentials_a_server_might_echo(s3_server: S3Server) -> None:
    transfer = S3Transfer(s3_server.profile(aws_api_key=Secret("AKIAECHO"),
                                            aws_api_secret=Secret("echo-secret")))
    exc = ClientError({"Error": {"Code": "SignatureDoesNotMatch",
                                 "Message": "AWSAccessKeyId AKIAECHO, key echo-secret"}},
                      "PutObject")
    message = str(transfer._error("put", "a.ts", exc))
    assert "SignatureDoesNotMatch" in message and "s3://hlsd-test/a.ts" in message
    assert "AKIAECHO" not in message and "echo-secret" not in message
