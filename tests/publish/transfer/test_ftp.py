"""FtpTransfer against a real pyftpdlib server on 127.0.0.1 (see tests/fixtures/ftp_server.py)."""

from __future__ import annotations

import asyncio
import logging
import threading
import traceback
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from hlsd.config import FtpProfile, Secret
from hlsd.publish.transfer.base import TransferError
from hlsd.publish.transfer.ftp import FtpTransfer
from tests.fixtures.ftp_server import FtpServer

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(30)]


def profile_for(server: FtpServer, directory: str = "/live/ch1", **changes: Any) -> FtpProfile:
    profile = FtpProfile(name="ftp-test", remote_host=server.host, user_name=server.user,
                         password=Secret(server.password), directory=directory,
                         port=server.port)
    return replace(profile, **changes)


def segment(tmp_path: Path, name: str = "live_720p-00001.ts", size: int = 300_000) -> Path:
    path = tmp_path / name
    path.write_bytes(bytes(i % 251 for i in range(size)))
    return path


def files_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


async def test_segments_and_playlists_round_trip(ftp_server: FtpServer, tmp_path: Path) -> None:
    """1. open() creates /live/ch1 and its parent. 2. A segment lands byte for byte.
    3. A playlist is written, then replaced. 4. delete() removes the segment and ignores
    a name that is not there. 5. No temporary file is left behind."""
    transfer = FtpTransfer(profile_for(ftp_server))
    await transfer.open()
    remote = ftp_server.root / "live" / "ch1"
    assert remote.is_dir()

    seg = segment(tmp_path)
    await transfer.put_segment(seg, seg.name)
    assert (remote / seg.name).read_bytes() == seg.read_bytes()

    await transfer.put_playlist(b"#EXTM3U\n#first\n", "live.m3u8")
    await transfer.put_playlist(b"#EXTM3U\n#second\n", "live.m3u8")
    assert (remote / "live.m3u8").read_bytes() == b"#EXTM3U\n#second\n"

    await transfer.delete([seg.name, "live_720p-99999.ts"])
    await transfer.close()
    assert files_under(ftp_server.root) == ["live/ch1/live.m3u8"]


async def test_playlist_replacement_is_atomic(ftp_server: FtpServer) -> None:
    """1. Publish version 0. 2. A thread reads the file on disk in a tight loop while
    40 more versions replace it. 3. Every read found the file, holding one complete version."""
    transfer = FtpTransfer(profile_for(ftp_server))
    await transfer.open()
    versions = [f"#EXTM3U\n#v{i}\n".encode() * 2000 for i in range(41)]  # ~20 kB each
    await transfer.put_playlist(versions[0], "live.m3u8")
    target = ftp_server.root / "live" / "ch1" / "live.m3u8"
    seen: set[bytes] = set()
    missing = 0
    done = threading.Event()

    def reader() -> None:
        nonlocal missing
        while not done.is_set():
            try:
                seen.add(target.read_bytes())
            except FileNotFoundError:
                missing += 1

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for data in versions[1:]:
            await transfer.put_playlist(data, "live.m3u8")
    finally:
        done.set()
        thread.join()
        await transfer.close()
    assert missing == 0
    assert seen <= set(versions), "a reader saw a partial or foreign playlist"
    assert len(seen) > 1, "the reader never overlapped a replacement"
    assert target.read_bytes() == versions[-1]


async def test_replace_when_server_refuses_rename_over_a_file(
        make_ftp_server: Callable[..., FtpServer]) -> None:
    """1. A server that answers 553 to RNTO onto an existing file. 2. Replacing a
    playlist still works (delete, then rename). 3. No temporary file is left."""
    server = make_ftp_server(refuse_rename_overwrite=True)
    transfer = FtpTransfer(profile_for(server, directory="/"))
    await transfer.open()
    await transfer.put_playlist(b"old", "live.m3u8")
    await transfer.put_playlist(b"new", "live.m3u8")
    await transfer.close()
    assert (server.root / "live.m3u8").read_bytes() == b"new"
    assert files_under(server.root) == ["live.m3u8"]


async def test_wrong_password_is_a_transfer_error_without_secrets(
        ftp_server: FtpServer, caplog: pytest.LogCaptureFixture) -> None:
    """1. Log in with a wrong password. 2. open() raises TransferError naming host and
    port. 3. Neither password appears in the error, its traceback or any log line."""
    caplog.set_level(logging.DEBUG)
    wrong = "wrong-" + ftp_server.password
    transfer = FtpTransfer(profile_for(ftp_server, password=Secret(wrong)))
    with capture_logs() as events, pytest.raises(TransferError) as info:
        await transfer.open()
    await transfer.close()
    message = str(info.value)
    assert f"127.0.0.1:{ftp_server.port}" in message and "530" in message
    traceback_text = "".join(traceback.format_exception(info.value))
    everything = traceback_text + repr(info.value) + caplog.text + repr(events)
    assert wrong not in everything and ftp_server.password not in everything


async def test_outage_then_reconnect(ftp_server: FtpServer, tmp_path: Path,
                                     caplog: pytest.LogCaptureFixture) -> None:
    """1. Upload through a persistent connection. 2. Restart the server: the next call
    reconnects transparently and succeeds. 3. Stop it: calls fail with TransferError.
    4. Start it again: the next call succeeds. 5. The password was never logged."""
    caplog.set_level(logging.DEBUG)
    transfer = FtpTransfer(profile_for(ftp_server))
    seg = segment(tmp_path)
    with capture_logs() as events:
        await transfer.open()
        await transfer.put_segment(seg, "a.ts")

        ftp_server.stop()
        ftp_server.start()
        await transfer.put_segment(seg, "b.ts")

        ftp_server.stop()
        with pytest.raises(TransferError, match=rf"127\.0\.0\.1:{ftp_server.port}"):
            await transfer.put_playlist(b"#EXTM3U\n", "live.m3u8")
        with pytest.raises(TransferError):
            await transfer.delete(["a.ts"])

        ftp_server.start()
        await transfer.put_playlist(b"#EXTM3U\n", "live.m3u8")
        await transfer.close()
    assert files_under(ftp_server.root / "live" / "ch1") == ["a.ts", "b.ts", "live.m3u8"]
    assert any(e["event"] == "ftp connection lost, reconnecting" for e in events)
    assert ftp_server.password not in caplog.text + repr(events)


async def test_concurrent_segments_all_land(ftp_server: FtpServer, tmp_path: Path) -> None:
    """1. Eight put_segment calls at once with concurrency 8. 2. All eight files are
    on the server, complete. 3. A second round reuses the pooled connections."""
    transfer = FtpTransfer(profile_for(ftp_server, concurrency=8))
    await transfer.open()
    segs = [segment(tmp_path, f"live_720p-{i:05d}.ts", 100_000 + i) for i in range(8)]
    for _ in range(2):
        await asyncio.gather(*(transfer.put_segment(s, s.name) for s in segs))
    await transfer.close()
    remote = ftp_server.root / "live" / "ch1"
    for s in segs:
        assert (remote / s.name).read_bytes() == s.read_bytes()


async def test_missing_local_segment_is_a_transfer_error(
        ftp_server: FtpServer, tmp_path: Path) -> None:
    """A segment file that vanished locally fails the call and uploads nothing."""
    transfer = FtpTransfer(profile_for(ftp_server))
    await transfer.open()
    with pytest.raises(TransferError, match="cannot read"):
        await transfer.put_segment(tmp_path / "gone.ts", "gone.ts")
    await transfer.close()
    assert files_under(ftp_server.root) == []


@pytest.fixture
def tls_server(make_ftp_server: Callable[..., FtpServer]) -> FtpServer:
    """Requires AUTH TLS on the control and data channels; its CA is `ca_file`."""
    return make_ftp_server(tls=True)


async def test_explicit_tls_round_trip(tls_server: FtpServer, tmp_path: Path) -> None:
    """1. tls: true with the server's CA: segments, playlists and deletes all work (the
    server refuses every command and data transfer that is not encrypted)."""
    transfer = FtpTransfer(profile_for(tls_server, tls=True, tls_ca_file=tls_server.ca_file))
    await transfer.open()
    seg = segment(tmp_path)
    await transfer.put_segment(seg, seg.name)
    await transfer.put_playlist(b"#EXTM3U\n", "live.m3u8")
    remote = tls_server.root / "live" / "ch1"
    assert (remote / seg.name).read_bytes() == seg.read_bytes()
    await transfer.delete([seg.name])
    await transfer.close()
    assert files_under(remote) == ["live.m3u8"]


async def test_tls_is_not_optional_for_a_server_that_requires_it(
        tls_server: FtpServer) -> None:
    """Without tls: true that server refuses the login: the round trip above was encrypted."""
    transfer = FtpTransfer(profile_for(tls_server))
    with pytest.raises(TransferError):
        await transfer.open()
    await transfer.close()


async def test_tls_certificate_is_verified(tls_server: FtpServer, tmp_path: Path) -> None:
    """1. A certificate from an unknown CA (the system CAs don't know ours) is refused.
    2. A CA file that does not exist is a TransferError naming the problem, no traceback."""
    transfer = FtpTransfer(profile_for(tls_server, tls=True))
    with pytest.raises(TransferError) as info:
        await transfer.open()
    await transfer.close()
    assert "CERTIFICATE_VERIFY_FAILED" in str(info.value)
    missing = FtpTransfer(profile_for(tls_server, tls=True, tls_ca_file=tmp_path / "no.pem"))
    with pytest.raises(TransferError) as info:
        await missing.open()
    await missing.close()
    assert "FileNotFoundError" in str(info.value)
