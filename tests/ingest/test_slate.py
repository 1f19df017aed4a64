"""The slate (hlsd.ingest.slate): the input's shape read from a reader's ffmpeg stderr, and the
slate's argv; one real ffmpeg run of the generated card (e2e)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from hlsd.ingest.slate import SourceShape, slate_argv, update_shape
from tests.fixtures.media import FFMPEG, FFPROBE

VIDEO_720P = ("  Stream #0:0[0x100]: Video: h264 (High) ([27][0][0][0] / 0x001B), "
              "yuv420p(progressive), 1280x720 [SAR 1:1 DAR 16:9], 25 fps, 25 tbr, 90k tbn")
AUDIO_MONO = ("  Stream #0:1[0x101](und): Audio: aac (LC) ([15][0][0][0] / 0x000F), 44100 Hz, "
              "mono, fltp, 130 kb/s")
VIDEO_1080I = ("  Stream #0:0[0x1e1]: Video: h264 (Main) ([27][0][0][0] / 0x001B), "
               "yuv420p(tv, bt709, top first), 1920x1080 [SAR 1:1 DAR 16:9], 29.97 fps, "
               "59.94 tbr, 90k tbn")
AUDIO_51 = ("  Stream #0:1[0x1e2](eng): Audio: ac3 ([129][0][0][0] / 0x0081), 48000 Hz, "
            "5.1(side), fltp, 384 kb/s")
OTHER = SourceShape(width=640, height=360, fps=50.0, sample_rate=32000, layout="mono")


# -- update_shape ---------------------------------------------------------------------------------

def test_a_video_stream_line_gives_size_and_frame_rate() -> None:
    shape = update_shape(OTHER, VIDEO_720P)
    assert shape == SourceShape(1280, 720, 25.0, sample_rate=32000, layout="mono")


def test_an_audio_stream_line_gives_sample_rate_and_layout() -> None:
    shape = update_shape(SourceShape(), AUDIO_MONO)
    assert shape == SourceShape(1280, 720, 25.0, sample_rate=44100, layout="mono")


def test_both_lines_in_turn_give_the_whole_shape() -> None:
    shape = SourceShape()
    for line in (VIDEO_1080I, AUDIO_51):
        shape = update_shape(shape, line)
    assert shape == SourceShape(1920, 1080, 29.97, 48000, "stereo")  # 5.1 made stereo


def test_a_video_line_without_fps_keeps_the_known_rate() -> None:
    line = "  Stream #0:0: Video: png, rgb24(pc), 1920x1080 [SAR 1:1 DAR 16:9], 25 tbr, 25 tbn"
    assert update_shape(OTHER, line) == SourceShape(1920, 1080, 50.0, 32000, "mono")


@pytest.mark.parametrize("line", [
    VIDEO_720P.replace("1280x720", "1281x720"),
    VIDEO_720P.replace("1280x720", "1280x721"),
    VIDEO_720P.replace("25 fps", "1000 fps"),
    "Input #0, mpegts, from 'udp://239.1.1.1:5000':",
    "  Duration: N/A, start: 1.400000, bitrate: N/A",
    "Stream mapping:",
    "  Stream #0:0 -> #0:0 (copy)",
    "  Program 1 ",
    "[mpegts @ 0x55d5c3f0e2c0] Packet corrupt (stream = 0, dts = 1800).",
])
def test_odd_sizes_odd_rates_and_other_lines_change_nothing(line: str) -> None:
    assert update_shape(OTHER, line) == OTHER


# -- slate_argv -----------------------------------------------------------------------------------

SHAPE = SourceShape(width=640, height=360, fps=30.0, sample_rate=44100, layout="mono")


def inputs_of(argv: list[str]) -> list[str]:
    return [argv[i + 1] for i, a in enumerate(argv) if a == "-i"]


def graph_of(argv: list[str]) -> str:
    return argv[argv.index("-filter_complex") + 1]


def test_the_generated_card_is_bars_in_the_inputs_shape_with_silence() -> None:
    argv = slate_argv(FFMPEG, None, SHAPE, drawtext=True)
    assert argv[0] == FFMPEG
    assert inputs_of(argv) == ["smptehdbars=size=640x360:rate=30",
                               "anullsrc=channel_layout=mono:sample_rate=44100"]
    assert argv.index("-re") < argv.index("-i")  # real time: it is a live source
    graph = graph_of(argv)
    assert graph.startswith("[0:v]") and graph.endswith(",format=yuv420p[v]")
    assert "drawtext=text='NO SIGNAL'" in graph
    assert argv[argv.index("-g") + 1] == "30"
    assert argv[-5:] == ["-f", "mpegts", "-flush_packets", "1", "-"]


def test_the_generated_card_without_drawtext_has_no_text() -> None:
    graph = graph_of(slate_argv(FFMPEG, None, SHAPE, drawtext=False))
    assert "drawtext" not in graph and "drawbox" in graph


def test_a_fractional_rate_is_kept_and_the_gop_rounded() -> None:
    argv = slate_argv(FFMPEG, None, SourceShape(fps=29.97), drawtext=False)
    assert inputs_of(argv)[0] == "smptehdbars=size=1280x720:rate=29.97"
    assert argv[argv.index("-g") + 1] == "30"


def test_an_image_slate_is_looped_at_the_inputs_rate_and_fitted_to_its_size() -> None:
    image = Path("/srv/slate/Off Air.PNG")
    argv = slate_argv(FFMPEG, image, SHAPE, drawtext=True)
    assert inputs_of(argv)[0] == str(image)
    at = argv.index("-i")
    assert argv[at - 4:at] == ["-loop", "1", "-framerate", "30"]
    assert "-stream_loop" not in argv
    graph = graph_of(argv)
    assert "scale=640:360:force_original_aspect_ratio=decrease" in graph
    assert "pad=640:360:" in graph and "fps=30" in graph
    assert "drawtext" not in graph  # the operator's own picture is shown as it is


def test_a_video_slate_is_looped_for_ever() -> None:
    video = Path("/srv/slate/loop.mp4")
    argv = slate_argv(FFMPEG, video, SHAPE, drawtext=False)
    at = argv.index("-i")
    assert argv[at - 2:at + 2] == ["-stream_loop", "-1", "-i", str(video)]
    assert "-loop" not in argv
    assert "scale=640:360" in graph_of(argv)


# -- the card, made by the real ffmpeg ------------------------------------------------------------

@pytest.mark.e2e
def test_the_generated_card_argv_runs_and_has_the_shape_asked_for(tmp_path: Path) -> None:
    """1. The generated card's argv, shape 640x360 at 30 fps with 44.1 kHz mono audio.
    2. Its output '-' becomes a file, and it runs for 2 s (-t 2).
    3. ffprobe sees one video stream of that size and one audio stream of that rate."""
    out = tmp_path / "slate.ts"
    argv = slate_argv(FFMPEG, None, SHAPE, drawtext=False)
    assert argv[-1] == "-"
    argv = [*argv[:-1], "-t", "2", str(out)]
    run = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    probe = subprocess.run([FFPROBE, "-v", "error", "-show_streams", "-of", "json", str(out)],
                           capture_output=True, text=True, timeout=30, check=True).stdout
    streams = json.loads(probe)["streams"]
    video = [s for s in streams if s["codec_type"] == "video"]
    audio = [s for s in streams if s["codec_type"] == "audio"]
    assert len(video) == 1 and len(audio) == 1 and len(streams) == 2
    assert (video[0]["codec_name"], video[0]["width"], video[0]["height"]) == ("h264", 640, 360)
    assert (audio[0]["codec_name"], audio[0]["sample_rate"], audio[0]["channels"]) == \
        ("aac", "44100", 1)
