"""`hlsd demo`: the embedded default — a live test pattern ladder served with a player page."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from hlsd import config as cfg

# One synthetic source; the rungs differ only after its inputs, so `encoder_mode: auto`
# decodes it once for the whole ladder (shared decode).
SOURCE = ("ffmpeg -re -f lavfi -i testsrc2=size=640x360:rate=25 "
          "-re -f lavfi -i sine=frequency=440:sample_rate=48000")
VIDEO = ("-c:v libx264 -preset veryfast -tune zerolatency -pix_fmt yuv420p "
         "-b:v {rate} -maxrate {rate} -bufsize {rate}")
LADDER = {
    "360p": f"{SOURCE} {VIDEO.format(rate='800k')} -c:a aac -b:a 96k -f mpegts -",
    "180p": f"{SOURCE} -s 320x180 {VIDEO.format(rate='250k')} -c:a aac -b:a 64k -f mpegts -",
    "audio": f"{SOURCE} -vn -c:a aac -b:a 64k -f mpegts -",
}


def demo_config(directory: Path, listen: str = "127.0.0.1", port: int = 8080,
                hls_js_url: str | None = None, hls_js_path: Path | None = None
                ) -> cfg.Config:
    """The demo's config; without hls_js_path the origin still looks for a local hls.js
    ($HLSD_HLS_JS, the share directory `scripts/demo` fills) before the CDN."""
    directory = directory.resolve()
    http: dict[str, object] = {"listen": listen, "port": port}
    if hls_js_url:
        http["hls_js_url"] = hls_js_url
    if hls_js_path:
        http["hls_js_path"] = str(hls_js_path.resolve())
    raw = {
        "temp_dir": str(directory / ".work"),
        "input_location": "lavfi",
        "live": True,
        "segment_length": 2,
        "index_segment_count": 6,
        "encoding_profile": list(LADDER),
        "transfer_profile": "demo_www",
        "demo_www": {"transfer_type": "copy", "directory": str(directory / "www")},
        "http": http,
        **{name: {"ffmpeg_command": command} for name, command in LADDER.items()},
    }
    return cfg.parse(raw)


def announce(config: cfg.Config) -> Callable[[str], None]:
    """What tells the user where to look once the HTTP origin listens."""
    www = config.transfer_profiles[0]
    assert isinstance(www, cfg.CopyProfile)
    master = www.directory / f"{config.index_prefix}.m3u8"

    def tell(url: str) -> None:
        print(f"\nhlsd demo: open {url} in a browser (master playlist: {master}).\n"
              "The first segments appear after a few seconds. Ctrl-C stops.\n",
              file=sys.stderr, flush=True)
    return tell
