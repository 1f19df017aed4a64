"""SftpTransfer against a real OpenSSH sshd on 127.0.0.1 (see tests/fixtures/ssh_server.py)."""

from __future__ import annotations

import asyncio
import logging
import threading
import traceback
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

import asyncssh
import pytest
from structlog.testing import capture_logs

from hlsd.config import Secret, SshProfile
from hlsd.publish.transfer.base import TransferError
from hlsd.publish.transfer.sftp import SftpTransfer
from tests.fixtures.ssh_server import SshdServer

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(30)]


def key_profile(server: SshdServer, sub: str = "live/ch1",
                kind: Literal["scp", "sftp"] = "sftp", **changes: Any) -> SshProfile:
    """Key auth as the test runner's user, host key checked against the server's known_hosts."""
    profile = SshProfile(name="sftp-test", transfer_type=kind, remote_host=server.host,
                         user_name=server.user, directory=str(server.root / sub),
                         port=server.port, key_file=server.client_key,
                         known_hosts=server.known_hosts)
    return replace(profile, **changes)


def password_profile(server: SshdServer, password: str, **changes: Any) -> SshProfile:
    if server.password_user is None:
        pytest.skip("password auth needs root (to create the test account)")
    profile = SshProfile(name="sftp-test", transfer_type="sftp", remote_host=server.host,
                         user_name=server.password_user, directory=str(server.root / "pw"),
                         port=server.port, password=Secret(password),
                         host_key=server.host_key_line)
    return replace(profile, **changes)


def segment(tmp_path: Path, name: str = "live_720p-00001.ts", size: int = 300_000) -> Path:
    path = tmp_path / name
    path.write_bytes(bytes(i % 251 for i in range(size)))
    return path


def files_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


@pytest.mark.parametrize("kind", ["sftp", "scp"])
async def test_segments_and_playlists_round_trip(
        sshd_server: SshdServer, tmp_path: Path, kind: Literal["scp", "sftp"]) -> None:
    """1. open() creates live/ch1 and its parent. 2. A segment lands byte for byte.
    3. A playlist is written, then replaced. 4. delete() removes the segment and ignores
    a name that is not there. 5. No temporary file is left behind."""
    transfer = SftpTransfer(key_profile(sshd_server, kind=kind))
    await transfer.open()
    remote = sshd_server.root / "live" / "ch1"
    assert remote.is_dir()

    seg = segment(tmp_path)
    await transfer.put_segment(seg, seg.name)
    assert (remote / seg.name).read_bytes() == seg.read_bytes()

    await transfer.put_playlist(b"#EXTM3U\n#first\n", "live.m3u8")
    await transfer.put_playlist(b"#EXTM3U\n#second\n", "live.m3u8")
    assert (remote / "live.m3u8").read_bytes() == b"#EXTM3U\n#second\n"

    await transfer.delete([seg.name, "live_720p-99999.ts"])
    await transfer.close()
    assert files_under(sshd_server.root) == ["live/ch1/live.m3u8"]


async def test_playlist_replacement_is_atomic(sshd_server: SshdServer) -> None:
    """1. Publish version 0. 2. A thread reads the file on disk in a tight loop while
    60 more versions replace it. 3. Every read found the file, holding one complete version."""
    transfer = SftpTransfer(key_profile(sshd_server))
    await transfer.open()
    versions = [f"#EXTM3U\n#v{i}\n".encode() * 2000 for i in range(61)]  # ~20 kB each
    await transfer.put_playlist(versions[0], "live.m3u8")
    target = sshd_server.root / "live" / "ch1" / "live.m3u8"
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


async def test_replace_without_posix_rename(sshd_server: SshdServer) -> None:
    """The fallback for servers without posix-rename@openssh.com (remove, then rename)
    replaces the playlist and leaves no temporary file."""
    transfer = SftpTransfer(key_profile(sshd_server, sub="."))
    await transfer.open()
    transfer._posix_rename = False  # seam: OpenSSH always offers the extension
    await transfer.put_playlist(b"old", "live.m3u8")
    await transfer.put_playlist(b"new", "live.m3u8")
    await transfer.close()
    assert (sshd_server.root / "live.m3u8").read_bytes() == b"new"
    assert files_under(sshd_server.root) == ["live.m3u8"]


async def test_password_auth_with_pinned_host_key(sshd_server: SshdServer) -> None:
    """1. Password auth as the unprivileged test account, host key pinned in config.
    2. A playlist lands in the account's directory."""
    transfer = SftpTransfer(password_profile(sshd_server, sshd_server.password or ""))
    await transfer.open()
    await transfer.put_playlist(b"#EXTM3U\n", "live.m3u8")
    await transfer.close()
    assert (sshd_server.root / "pw" / "live.m3u8").read_bytes() == b"#EXTM3U\n"


async def test_wrong_password_fails_without_leaking_it(
        sshd_server: SshdServer, caplog: pytest.LogCaptureFixture) -> None:
    """1. A wrong password. 2. open() raises TransferError naming host and port.
    3. Neither password appears in the error, its traceback or any log line."""
    caplog.set_level(logging.DEBUG)
    wrong = "wrong-" + (sshd_server.password or "")
    transfer = SftpTransfer(password_profile(sshd_server, wrong))
    with capture_logs() as events, pytest.raises(TransferError) as info:
        await transfer.open()
    await transfer.close()
    assert f"127.0.0.1:{sshd_server.port}" in str(info.value)
    assert "authentication failed" in str(info.value)
    everything = ("".join(traceback.format_exception(info.value)) + caplog.text
                  + repr(events))
    assert wrong not in everything
    assert sshd_server.password is not None and sshd_server.password not in everything


@pytest.mark.parametrize("where", ["host_key", "known_hosts"])
async def test_wrong_host_key_is_refused(sshd_server: SshdServer, tmp_path: Path,
                                         where: str) -> None:
    """1. Trust a different key than the server's (pinned, or in a known_hosts file).
    2. open() and put_playlist() raise TransferError about the host key. 3. Nothing lands."""
    stranger = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode()
    if where == "host_key":
        profile = key_profile(sshd_server, known_hosts=None, host_key=stranger.strip())
    else:
        known = tmp_path / "known_hosts"
        known.write_text(f"[127.0.0.1]:{sshd_server.port} {stranger}")
        profile = key_profile(sshd_server, known_hosts=known)
    transfer = SftpTransfer(profile)
    with pytest.raises(TransferError, match="host key NOT trusted"):
        await transfer.open()
    with pytest.raises(TransferError, match="host key NOT trusted"):
        await transfer.put_playlist(b"#EXTM3U\n", "live.m3u8")
    await transfer.close()
    assert list(sshd_server.root.iterdir()) == []


async def test_host_key_checked_by_default(sshd_server: SshdServer, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Without known_hosts/host_key the user's ~/.ssh/known_hosts decides: missing -> refused,
    present without this server -> refused."""
    monkeypatch.setenv("HOME", str(tmp_path))
    transfer = SftpTransfer(key_profile(sshd_server, known_hosts=None))
    with pytest.raises(TransferError, match="known_hosts does not exist"):
        await transfer.open()
    (tmp_path / ".ssh").mkdir()
    (tmp_path / ".ssh" / "known_hosts").write_text("")
    with pytest.raises(TransferError, match="host key NOT trusted"):
        await transfer.open()
    (tmp_path / ".ssh" / "known_hosts").write_bytes(sshd_server.known_hosts.read_bytes())
    await transfer.open()
    await transfer.close()


async def test_insecure_skip_host_key_check(sshd_server: SshdServer) -> None:
    """1. insecure_skip_host_key_check with no known host key at all connects.
    2. The warning is logged once, even across a reconnect."""
    transfer = SftpTransfer(key_profile(sshd_server, known_hosts=None,
                                        insecure_skip_host_key_check=True))
    with capture_logs() as events:
        await transfer.open()
        await transfer.close()
        await transfer.put_playlist(b"#EXTM3U\n", "live.m3u8")
        await transfer.close()
    assert (sshd_server.root / "live" / "ch1" / "live.m3u8").exists()
    warnings = [e for e in events if "verification is OFF" in e["event"]]
    assert len(warnings) == 1 and warnings[0]["log_level"] == "warning"


async def test_outage_then_reconnect(sshd_server: SshdServer, tmp_path: Path) -> None:
    """1. Upload through the shared connection. 2. Restart sshd (every session dies):
    the next call reconnects transparently. 3. Stop it: calls fail with TransferError.
    4. Start it again: the next call succeeds."""
    transfer = SftpTransfer(key_profile(sshd_server))
    seg = segment(tmp_path)
    with capture_logs() as events:
        await transfer.open()
        await transfer.put_segment(seg, "a.ts")

        sshd_server.stop()
        sshd_server.start()
        await transfer.put_segment(seg, "b.ts")

        sshd_server.stop()
        with pytest.raises(TransferError, match=rf"127\.0\.0\.1:{sshd_server.port}"):
            await transfer.put_playlist(b"#EXTM3U\n", "live.m3u8")
        with pytest.raises(TransferError):
            await transfer.delete(["a.ts"])

        sshd_server.start()
        await transfer.put_playlist(b"#EXTM3U\n", "live.m3u8")
        await transfer.close()
    assert files_under(sshd_server.root / "live" / "ch1") == ["a.ts", "b.ts", "live.m3u8"]
    assert any(e["event"] == "sftp connection lost, reconnecting" for e in events)


async def test_concurrent_segments_share_one_connection(
        sshd_server: SshdServer, tmp_path: Path) -> None:
    """1. Eight put_segment calls at once, then a delete of all eight at once.
    2. All eight land complete, over a single SSH connection. 3. All are gone after."""
    transfer = SftpTransfer(key_profile(sshd_server, concurrency=8))
    segs = [segment(tmp_path, f"live_720p-{i:05d}.ts", 100_000 + i) for i in range(8)]
    with capture_logs() as events:
        await transfer.open()
        await asyncio.gather(*(transfer.put_segment(s, s.name) for s in segs))
    remote = sshd_server.root / "live" / "ch1"
    for s in segs:
        assert (remote / s.name).read_bytes() == s.read_bytes()
    assert sum(e["event"] == "sftp connected" for e in events) == 1
    await transfer.delete([s.name for s in segs])
    await transfer.close()
    assert files_under(sshd_server.root) == []
