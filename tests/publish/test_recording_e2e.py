"""Recording: a live ladder with `recording: {period: 20}` archived as VOD playlists per
period, through a stop and a restart."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from hlsd.media.parse import parse_media
from hlsd.media.playlist import MediaPlaylist
from tests.daemon_util import lavfi_command, probe_duration, running, wait_for, write_config
from tests.fixtures.ftp_server import FtpServer
from tests.fixtures.s3_server import S3Server
from tests.fixtures.ssh_server import SshdServer

pytestmark = pytest.mark.e2e

RUNGS = ("ep_a", "ep_b")
PERIOD = 20


def parts(archive: Path, rung: str) -> list[tuple[Path, MediaPlaylist]]:
    """The rung's recording playlists, oldest first."""
    found = [(p, parse_media(p.read_text())) for p in archive.glob(f"live_{rung}_*.m3u8")]
    return sorted(found, key=lambda pair: start_of(pair[1]))


def closed(archive: Path, rung: str) -> int:
    """How many of the rung's recording playlists are closed (open ones are EVENT)."""
    return sum(playlist.ended for _, playlist in parts(archive, rung))


def start_of(playlist: MediaPlaylist) -> float:
    date = playlist.entries[0].program_date_time
    assert date is not None
    return date.timestamp()


def end_of(playlist: MediaPlaylist) -> float:
    last = playlist.entries[-1]
    assert last.program_date_time is not None
    return last.program_date_time.timestamp() + last.duration


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0


def test_periods_are_closed_contiguous_and_survive_a_restart(tmp_path: Path) -> None:
    """1. A live ladder (2 rungs, 1 s segments) records with period 20 until two periods
    are closed; 2. SIGTERM closes the open one; 3. a restart records until a period closes
    again, and SIGTERM. 4. Per rung: at least 3 closed VOD playlists, the rung in their
    names, each starting where the previous ended (EXTINF included) except after the
    restart, where a discontinuity marks the gap; each decodes to its EXTINF sum; a master
    per part names the parts of every rung; nothing named is missing."""
    archive = tmp_path / "archive"
    config = write_config(
        tmp_path / "rec.yaml", temp_dir=str(tmp_path / "work"), input_location="lavfi",
        live=True, segment_length=1, index_segment_count=6, encoding_profile=list(RUNGS),
        transfer_profile="www", recording={"transfer_profile": "archive", "period": PERIOD},
        www={"transfer_type": "copy", "directory": str(tmp_path / "www")},
        archive={"transfer_type": "copy", "directory": str(archive)},
        **{name: {"ffmpeg_command": lavfi_command(rate=25, extra="-g 25")}
           for name in RUNGS})
    log = tmp_path / "hlsd.log"
    with running(config, log) as proc:
        wait_for(lambda: closed(archive, "ep_b") >= 2, 75, "two closed periods")
        stop(proc)
    before = closed(archive, "ep_b")
    with running(config, log) as proc:
        wait_for(lambda: closed(archive, "ep_b") >= before + 1, 45, "a period closed")
        stop(proc)

    for rung in RUNGS:
        found = parts(archive, rung)
        assert len(found) >= 3, [p.name for p, _ in found]
        gaps = 0
        for (_, previous), (path, playlist) in pairwise(found):
            if playlist.entries[0].discontinuity:
                gaps += 1
                assert start_of(playlist) >= end_of(previous), path.name
            else:
                assert abs(start_of(playlist) - end_of(previous)) < 0.05, path.name
        assert gaps == 1, "the restart's gap is marked once"
        for path, playlist in found:
            assert playlist.ended and "#EXT-X-PLAYLIST-TYPE:VOD" in path.read_text()
            assert rung in path.name
            assert all((archive / e.name).is_file() for e in playlist.entries)
            total = sum(e.duration for e in playlist.entries)
            assert abs(probe_duration(path) - total) <= 0.5, path.name
    masters = [m for m in archive.glob("live_*.m3u8")
               if not any(f"live_{r}_" in m.name for r in RUNGS)]
    assert len(masters) >= 3
    for master in masters:
        tag = master.name.removeprefix("live_").removesuffix(".m3u8")
        named = [line for line in master.read_text().splitlines()
                 if line and not line.startswith("#")]
        assert sorted(named) == [f"live_{r}_{tag}.m3u8" for r in RUNGS]
        assert all((archive / n).is_file() for n in named)


def remote_archive(kind: str, request: pytest.FixtureRequest
                   ) -> tuple[dict[str, Any], Callable[[], list[str]], Callable[[str], str]]:
    """The recording profile for `kind`, and what lists and reads its stored names."""
    if kind == "s3":
        s3: S3Server = request.getfixturevalue("s3_server")
        profile = {"transfer_type": "s3", "bucket_name": s3.bucket, "key_prefix": "rec/",
                   "aws_api_key": s3.access_key, "aws_api_secret": s3.secret_key,
                   "endpoint_url": s3.endpoint_url, "region": s3.region,
                   "addressing_style": "path"}
        return (profile, lambda: [k.removeprefix("rec/") for k in s3.keys("rec/")],
                lambda name: s3.read(f"rec/{name}").decode())
    if kind == "ftp":
        ftp: FtpServer = request.getfixturevalue("ftp_server")
        folder = ftp.root / "rec"
        profile = {"transfer_type": "ftp", "remote_host": ftp.host, "port": ftp.port,
                   "user_name": ftp.user, "password": ftp.password, "directory": "/rec"}
    else:
        sshd: SshdServer = request.getfixturevalue("sshd_server")
        if not (sshd.password_user and sshd.password):
            pytest.skip("needs root (password user)")
        folder = sshd.root / "rec"
        profile = {"transfer_type": "sftp", "remote_host": sshd.host, "port": sshd.port,
                   "user_name": sshd.password_user, "password": sshd.password,
                   "host_key": sshd.host_key_line, "directory": str(folder)}
    return (profile, lambda: sorted(p.name for p in folder.glob("*")) if folder.is_dir()
            else [], lambda name: (folder / name).read_text())


@pytest.mark.parametrize("kind", ["ftp", "sftp", "s3"])
def test_recording_to_a_remote_destination(tmp_path: Path, kind: str,
                                           request: pytest.FixtureRequest) -> None:
    """1. One rung records to an FTP, SFTP or S3 server with period 10; 2. once a period
    is closed there, SIGTERM closes the open one. 3. Both are VOD playlists whose every
    segment is stored beside them, with a master each."""
    profile, names, read_text = remote_archive(kind, request)
    config = write_config(
        tmp_path / "rec.yaml", temp_dir=str(tmp_path / "work"), input_location="lavfi",
        live=True, segment_length=1, encoding_profile="ep_a", transfer_profile="www",
        recording={"transfer_profile": "vault", "period": 10},
        www={"transfer_type": "copy", "directory": str(tmp_path / "www")}, vault=profile,
        ep_a={"ffmpeg_command": lavfi_command(rate=25, extra="-g 25")})

    def playlists() -> list[str]:
        return [n for n in names() if n.startswith("live_ep_a_") and n.endswith(".m3u8")]

    def closed_there() -> int:
        return sum("#EXT-X-ENDLIST" in read_text(n) for n in playlists())

    with running(config, tmp_path / "hlsd.log") as proc:
        wait_for(lambda: closed_there() >= 1, 40, f"a period closed over {kind}")
        stop(proc)
    stored = set(names())
    assert len(playlists()) >= 2
    for name in playlists():
        playlist = parse_media(read_text(name))
        assert playlist.ended and playlist.entries
        assert all(e.name in stored for e in playlist.entries)
        assert name.replace("live_ep_a_", "live_") in stored  # its master
