"""Closed-caption signalling: CEA-608 carried in H.264 SEI (ATSC A/53) is found by the
segmenter and declared by the master; a stream without it says CLOSED-CAPTIONS=NONE."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.daemon_util import hlsd_argv, write_config
from tests.hlscheck import parse_attributes

pytestmark = pytest.mark.e2e


def a53_sei() -> bytes:
    """One SEI NAL unit: user_data_registered_itu_t_t35, GA94 cc_data with two CC1 pairs
    (ATSC A/53 Part 4; CEA-708 cc_data with 608 field-1 data)."""
    cc = bytes([0xC0 | 2, 0xFF, 0xFC, 0x94, 0x2C, 0xFC, 0x80, 0x80, 0xFF])
    payload = bytes([0xB5, 0x00, 0x31]) + b"GA94" + bytes([0x03]) + cc
    return b"\x00\x00\x00\x01\x06" + bytes([4, len(payload)]) + payload + b"\x80"


def with_captions(h264: bytes) -> bytes:
    """The Annex-B stream with the caption SEI before the first slice of every frame."""
    out, i, n = bytearray(), 0, len(h264)
    starts = []
    while (i := h264.find(b"\x00\x00\x01", i)) != -1:
        starts.append(i)
        i += 3
    for k, start in enumerate(starts):
        end = starts[k + 1] if k + 1 < len(starts) else n
        nal_type = h264[start + 3] & 0x1F
        if nal_type in (1, 5):  # a slice: each frame here has one
            out += a53_sei()
        out += h264[start:end]
    return bytes(out)


def make(path: Path, captions: bool) -> Path:
    es = subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=192x108:rate=25:duration=6",
         "-c:v", "libx264", "-preset", "ultrafast", "-g", "50", "-bf", "0", "-f", "h264", "-"],
        capture_output=True, check=True).stdout
    data = with_captions(es) if captions else es
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "h264", "-r", "25", "-i", "-", "-c",
                    "copy", "-f", "mpegts", str(path)], input=data, check=True)
    return path


def master_of(tmp_path: Path, source: Path) -> str:
    www = tmp_path / "www"
    config = write_config(
        tmp_path / "cc.yaml", temp_dir=str(tmp_path / "work"), input_location=str(source),
        segment_length=2, index_segment_count=0, encoding_profile="ep",
        transfer_profile="www", ep={"ffmpeg_command": "ffmpeg -i %s -c copy -f mpegts -"},
        www={"transfer_type": "copy", "directory": str(www)})
    done = subprocess.run(hlsd_argv("run", str(config)), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return (www / "live.m3u8").read_text()


def test_captions_in_the_video_are_declared(tmp_path: Path) -> None:
    """1. an H.264 source with CEA-608 in SEI (ffprobe sees "Closed Captions": the SEI
       is what real captioned streams carry), re-streamed with -c copy
    2. the master declares one CLOSED-CAPTIONS rendition (INSTREAM-ID CC1) and the
       variant names its group"""
    source = make(tmp_path / "cc.ts", captions=True)
    probe = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-show_entries",
                            "stream=closed_captions", str(source)],
                           capture_output=True, text=True).stdout
    assert "closed_captions=1" in probe
    master = master_of(tmp_path, source)
    media = [parse_attributes(line.partition(":")[2]) for line in master.splitlines()
             if line.startswith("#EXT-X-MEDIA:")]
    assert media and media[0]["TYPE"] == "CLOSED-CAPTIONS" and media[0]["INSTREAM-ID"] == "CC1"
    inf = [parse_attributes(line.partition(":")[2]) for line in master.splitlines()
           if line.startswith("#EXT-X-STREAM-INF:")]
    assert inf[0]["CLOSED-CAPTIONS"] == media[0]["GROUP-ID"]


def test_no_captions_is_said(tmp_path: Path) -> None:
    master = master_of(tmp_path, make(tmp_path / "plain.ts", captions=False))
    assert "#EXT-X-MEDIA:" not in master
    inf = [line for line in master.splitlines() if line.startswith("#EXT-X-STREAM-INF:")]
    assert inf and all(line.endswith("CLOSED-CAPTIONS=NONE") for line in inf)
