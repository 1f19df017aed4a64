"""Content steering end to end: a running daemon with `pathways` publishes the master with
every variant once per pathway and the steering manifest beside it, and its built-in origin
serves the manifest, with the query players add to it too; a reload reorders both."""

from __future__ import annotations

import json
import signal
import socket
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.daemon_util import lavfi_command, read, running, wait_for
from tests.hlscheck import check_master

pytestmark = pytest.mark.e2e


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status), dict(response.headers), bytes(response.read())
    except urllib.error.HTTPError as exc:
        return int(exc.code), dict(exc.headers), bytes(exc.read())
    except OSError:  # not listening yet
        return 0, {}, b""


def variant_uris(master: str) -> list[tuple[str, str]]:
    """(PATHWAY-ID, URI) of each EXT-X-STREAM-INF."""
    lines = master.splitlines()
    return [(line.split('PATHWAY-ID="')[1].split('"')[0], lines[i + 1])
            for i, line in enumerate(lines) if line.startswith("#EXT-X-STREAM-INF:")]


@pytest.mark.parametrize("mode", ["ts", "ll-hls"])
def test_master_with_pathways_and_the_steering_manifest_served(tmp_path: Path,
                                                               mode: str) -> None:
    """1. `hlsd run` with the origin on a known port and two pathways: the same origin
       by two host names (127.0.0.1 and localhost), as two hosts would be
    2. the master (file and origin) names the steering manifest and the first pathway,
       lists both rungs once per pathway, a's then b's, URIs prefixed; each variant
       playlist it names loads through its pathway's host name
    3. the origin serves live-steering.json: 200, application/json, a short
       Cache-Control, VERSION 1, TTL, RELOAD-URI, PATHWAY-PRIORITY [a, b]; the same with
       ?_HLS_pathway=a&_HLS_throughput=1000, and at RELOAD-URI resolved against that URL
    4. the priority reversed + SIGHUP: the manifest says [b, a], the master starts on b
    5. SIGTERM: exit 0
    With LL-HLS (fMP4, parts) the origin's fast path sees the request first: the
    manifest must still reach aiohttp's file answer."""
    port = free_port()
    www = tmp_path / "www"
    origin = f"http://127.0.0.1:{port}/"
    pathways = [{"id": "a", "url_prefix": origin},
                {"id": "b", "url_prefix": f"http://localhost:{port}/"}]
    settings: dict[str, Any] = dict(
        temp_dir=str(tmp_path / "work"), input_location="lavfi", live=True, segment_length=1,
        index_segment_count=4, encoding_profile=["video", "sound"], transfer_profile="www",
        http={"listen": "127.0.0.1", "port": port}, pathways=pathways,
        video={"ffmpeg_command": lavfi_command(size="160x90", audio=False)},
        sound={"ffmpeg_command": "ffmpeg -re -f lavfi -i sine=frequency=440:sample_rate="
                                 "48000 -c:a aac -b:a 48k -f mpegts -"},
        www={"transfer_type": "copy", "directory": str(www)})
    if mode == "ll-hls":
        settings.update(segment_format="fmp4", low_latency={"part_length": 0.5})
    config = tmp_path / "hlsd.yaml"
    config.write_text(yaml.safe_dump(settings))
    steering = origin + "live-steering.json"

    with running(config, tmp_path / "hlsd.log") as proc:
        master = wait_for(lambda: read(www / "live.m3u8"), 60, "the master playlist")
        status, _, body = wait_for(lambda: (r := get(origin + "live.m3u8"))[0] == 200 and r,
                                   20, "the master through the origin")
        assert body.decode() == master
        assert '#EXT-X-CONTENT-STEERING:SERVER-URI="live-steering.json",PATHWAY-ID="a"' \
            in master.splitlines()
        listed = variant_uris(master)
        assert [p for p, _ in listed] == ["a", "a", "b", "b"]
        names = {uri.rsplit("/", 1)[1] for _, uri in listed}
        assert names == {"live_video.m3u8", "live_sound.m3u8"}
        assert [uri for _, uri in listed] == [
            *(origin + uri.rsplit("/", 1)[1] for _, uri in listed[:2]),
            *(f"http://localhost:{port}/" + uri.rsplit("/", 1)[1] for _, uri in listed[:2])]
        check_master(master, lambda uri: get(uri)[0] == 200)  # every URI, both host names

        status, headers, body = get(steering)
        assert status == 200, body
        assert headers["Content-Type"].startswith("application/json")
        assert headers["Cache-Control"] == "max-age=1"
        manifest = json.loads(body)
        assert manifest["VERSION"] == 1 and manifest["PATHWAY-PRIORITY"] == ["a", "b"]
        assert isinstance(manifest["TTL"], int) and manifest["TTL"] > 0
        asked = steering + "?_HLS_pathway=a&_HLS_throughput=1000"
        status, headers, again = get(asked)
        assert status == 200 and json.loads(again) == manifest
        reload_url = urllib.parse.urljoin(asked, manifest["RELOAD-URI"])
        assert reload_url == steering
        assert json.loads(get(reload_url)[2]) == manifest

        settings["pathways"] = pathways[::-1]
        config.write_text(yaml.safe_dump(settings))
        proc.send_signal(signal.SIGHUP)
        wait_for(lambda: json.loads(get(steering)[2] or b"{}").get("PATHWAY-PRIORITY")
                 == ["b", "a"], 40, "the manifest reordered")
        reordered = wait_for(lambda: (t := read(www / "live.m3u8")) and 'PATHWAY-ID="b"\n' in t
                             and t, 40, "the master reordered")
        assert [p for p, _ in variant_uris(reordered)] == ["b", "b", "a", "a"]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
