"""A second real player: GStreamer's playbin3 (hlsdemux2) plays the live ladder from the
built-in origin. It starts on the first variant the master lists and keeps the tracks it
found there: listed first, an audio-only rung cost it the video for good."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.daemon_util import FAST_X264, read, running, wait_for, write_config
from tests.serve.test_playback import origin_url

pytestmark = pytest.mark.e2e

SOURCE = ("ffmpeg -re -f lavfi -i testsrc2=size=320x180:rate=25 "
          "-re -f lavfi -i sine=frequency=440:sample_rate=48000")
LADDER = {
    "ep_180p": f"{SOURCE} {FAST_X264} -b:v 300k -c:a aac -b:a 64k -f mpegts -",
    "ep_90p": f"{SOURCE} -s 160x90 {FAST_X264} -b:v 100k -c:a aac -b:a 48k -f mpegts -",
    "ep_audio": f"{SOURCE} -vn -c:a aac -b:a 64k -f mpegts -",
}
PLAY_FOR = 15.0  # seconds of video, by its timestamps
# What GStreamer needs for this stream; (element, any alternative, Debian package).
NEEDED = [("playbin3", "gstreamer1.0-plugins-base"),
          ("hlsdemux2|hlsdemux", "gstreamer1.0-plugins-good / -bad"),
          ("souphttpsrc", "gstreamer1.0-plugins-good"), ("tsdemux", "gstreamer1.0-plugins-bad"),
          ("h264parse", "gstreamer1.0-plugins-bad"),
          ("avdec_h264|openh264dec", "gstreamer1.0-libav"),
          ("avdec_aac|faad|fdkaacdec", "gstreamer1.0-libav"), ("fakesink", "gstreamer1.0-tools")]
# `gst-launch-1.0 -v` prints a fakesink's last-message for every buffer it renders.
BUFFER = re.compile(r"GstFakeSink:(?P<sink>[av]sink): last-message = chain .*?"
                    r"pts: (?P<h>\d+):(?P<m>\d+):(?P<s>\d+\.\d+)")


def require_gstreamer() -> None:
    """Skip, naming what is missing, when GStreamer cannot play HLS here."""
    if shutil.which("gst-launch-1.0") is None or shutil.which("gst-inspect-1.0") is None:
        pytest.skip("GStreamer is not installed (apt-get install gstreamer1.0-tools)")
    missing = []
    for elements, package in NEEDED:
        if not any(subprocess.run(["gst-inspect-1.0", "--exists", e],
                                  capture_output=True).returncode == 0
                   for e in elements.split("|")):
            missing.append(f"{elements} ({package})")
    if missing:
        pytest.skip("GStreamer's HLS playback needs " + ", ".join(missing))


@dataclass
class Rendered:
    """Buffers that reached the sinks, by presentation time (seconds)."""

    video: list[float] = field(default_factory=list)
    audio: list[float] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)

    def video_span(self) -> float:
        return max(self.video) - min(self.video) if self.video else 0.0


@contextmanager
def playbin(url: str) -> Iterator[tuple[subprocess.Popen[bytes], Rendered]]:
    """`gst-launch-1.0 -v playbin3` with counting fakesinks that render in real time."""
    argv = ["gst-launch-1.0", "-v", "playbin3", f"uri={url}",
            "video-sink=fakesink name=vsink sync=true silent=false",
            "audio-sink=fakesink name=asink sync=true silent=false"]
    env = {**os.environ, "GST_DEBUG": "*:2"}  # warnings too (on stderr, merged)
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    rendered = Rendered()

    def collect() -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.decode(errors="replace")
            if m := BUFFER.search(line):
                pts = int(m["h"]) * 3600 + int(m["m"]) * 60 + float(m["s"])
                (rendered.video if m["sink"] == "vsink" else rendered.audio).append(pts)
            else:
                rendered.lines.append(line)

    reader = threading.Thread(target=collect, daemon=True)
    reader.start()
    try:
        yield proc, rendered
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # gst-launch stops the pipeline on interrupt
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        reader.join(timeout=10)


def test_gstreamer_playbin3_plays_video_from_the_live_ladder(tmp_path: Path) -> None:
    """1. `hlsd run`: a live ladder of two video rungs and an audio-only rung, copied to a
       folder its HTTP origin serves
    2. once the master is published, its first variant is a video rung, its last the
       audio-only one; the player arrives once every variant lists three segments
    3. `gst-launch-1.0 playbin3 uri=<origin>/live.m3u8` with fakesinks that render in real
       time: video frames reach the video sink until they span 15 s of the stream, audio
       reaches the audio sink, GStreamer reports no error and no "no track" warning
    """
    require_gstreamer()
    www = tmp_path / "www"
    config = write_config(
        tmp_path / "ladder.yaml", temp_dir=str(tmp_path / "work"), input_location="lavfi",
        live=True, segment_length=2, index_segment_count=6, encoding_profile=list(LADDER),
        transfer_profile="www", www={"transfer_type": "copy", "directory": str(www)},
        http={"listen": "127.0.0.1", "port": 0},
        **{name: {"ffmpeg_command": command} for name, command in LADDER.items()})
    log = tmp_path / "hlsd.log"
    with running(config, log) as daemon:
        url = wait_for(lambda: origin_url(log), 30, "the origin's URL")
        master = wait_for(lambda: read(www / "live.m3u8"), 60, "the master playlist")
        assert daemon.poll() is None, read(log)
        uris = [line for line in master.splitlines() if line.endswith(".m3u8")]
        assert uris[0] == "live_ep_180p.m3u8" and uris[-1] == "live_ep_audio.m3u8", master
        # A viewer arriving once the stream has run a little (RFC 8216 §6.3.3: three target
        # durations): GStreamer 1.22 cannot follow a live playlist it first saw with a
        # single segment ("Could not synchronize media playlists"), whatever the order.
        for uri in uris:
            wait_for(lambda u=uri: (read(www / u) or "").count("#EXTINF") >= 3, 30,
                     f"three segments in {uri}")

        with playbin(url + "live.m3u8") as (player, rendered):
            wait_for(lambda: rendered.video_span() >= PLAY_FOR or player.poll() is not None,
                     PLAY_FOR + 45, f"{PLAY_FOR} s of video rendered by GStreamer")
            assert player.poll() is None, "".join(rendered.lines[-40:])
        output = "".join(rendered.lines)
        assert rendered.video_span() >= PLAY_FOR, output[-4000:]
        assert len(rendered.video) >= PLAY_FOR * 25 * 0.9  # frames, not a few stills
        assert rendered.audio and max(rendered.audio) - min(rendered.audio) >= PLAY_FOR - 2
        assert "no track to handle pad" not in output.lower(), output[-4000:]
        assert "ERROR" not in output, output[-4000:]
        assert daemon.poll() is None, read(log)
