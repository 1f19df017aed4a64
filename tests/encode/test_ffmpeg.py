"""Encoder argv: input substitution, keyframe grid, no shell."""

from __future__ import annotations

from hlsd.config.commands import command_problems, shared_problems
from hlsd.encode.ffmpeg import encoder_argv, find_ffmpeg, keyframe_grid, shared_encoder_argv


def test_input_substituted_and_keyframe_grid_added_before_output() -> None:
    a = encoder_argv("ffmpeg -i %s -c:v libx264 -f mpegts -", "in.mp4", 4, "/usr/bin/ffmpeg",
                     False)
    assert a.argv[0] == "/usr/bin/ffmpeg" and "in.mp4" in a.argv
    assert a.argv[-3:] == [*keyframe_grid(4), "-"]
    assert a.added and not a.reads_stdin
    assert "-nostdin" in a.argv


def test_existing_keyframe_settings_and_copies_are_left_alone() -> None:
    for cmd in ("ffmpeg -i %s -g 50 -f mpegts -", "ffmpeg -i %s -c copy -f mpegts -",
                "ffmpeg -i %s -vn -c:a aac -pes_payload_size 0 -f mpegts -",
                "ffmpeg -i %s -force_key_frames expr:1 -f mpegts -"):
        assert not encoder_argv(cmd, "x", 4, "ffmpeg", False).added


def test_audio_only_outputs_get_one_frame_per_pes() -> None:
    """The segmenter cuts between PES packets: audio cut on the video's grid needs small
    ones (ffmpeg's default packs ~0.37 s per PES)."""
    for cmd in ("ffmpeg -i %s -vn -c:a aac -f mpegts -",
                "ffmpeg -i %s -map 0:a:1 -c:a aac -f mpegts -"):
        a = encoder_argv(cmd, "x", 4, "ffmpeg", False)
        assert a.argv[-3:] == ["-pes_payload_size", "0", "-"] and "-force_key_frames" not in a.argv
    video = encoder_argv("ffmpeg -i %s -map 0:v -map 0:a -f mpegts -", "x", 4, "ffmpeg", False)
    assert "-pes_payload_size" not in video.argv


def test_source_command_and_stdin_inputs_read_pipe0() -> None:
    a = encoder_argv("ffmpeg -i %s -f mpegts -", "rtmp://x", 2, "ffmpeg", True)
    assert "pipe:0" in a.argv and a.reads_stdin and "-nostdin" not in a.argv
    b = encoder_argv("ffmpeg -i %s -f mpegts -", "-", 2, "ffmpeg", False)
    assert b.reads_stdin


def test_arguments_with_spaces_stay_whole() -> None:
    a = encoder_argv("ffmpeg -i %s -metadata 'title=a b' -f mpegts -", "/m/my film.mp4", 4,
                     "ffmpeg", False)
    assert "/m/my film.mp4" in a.argv and "title=a b" in a.argv


def test_command_problems() -> None:
    assert command_problems("ffmpeg -i x -f mpegts -") == []
    assert command_problems("ffmpeg -i 'x") != []
    assert command_problems("") == ["is empty"]


def test_an_ffmpeg_is_found() -> None:
    found = find_ffmpeg()
    assert found is not None and found.origin in ("PATH", "imageio-ffmpeg")


def test_shared_decode_merges_outputs_onto_inherited_pipes() -> None:
    inp = "ffmpeg -re -f lavfi -i testsrc2 -i %s"
    rungs = [encoder_argv(f"{inp} -s 640x360 -c:v libx264 -f mpegts -", "a.wav", 2, "ff",
                          False),
             encoder_argv(f"{inp} -vn -c:a aac -f mpegts -", "a.wav", 2, "ff", False)]
    argv = shared_encoder_argv(rungs, [7, 9])
    assert argv[0] == "ff" and {"-nostdin", "-nostats"} <= set(argv[1:3])
    assert argv[3:9] == ["-re", "-f", "lavfi", "-i", "testsrc2", "-i"]
    assert argv.count("-i") == 2 and argv.count("-f") == 3
    assert argv.index("pipe:7") < argv.index("-vn") < argv.index("pipe:9") == len(argv) - 1
    assert "-force_key_frames" in argv[:argv.index("pipe:7")]


def test_shared_decode_needs_identical_inputs() -> None:
    same = {"a": "ffmpeg -i %s -s 1280x720 -f mpegts -", "b": "ffmpeg -i %s -vn -f mpegts -"}
    assert shared_problems(same) == []
    differ = {**same, "c": "ffmpeg -re -i %s -f mpegts -"}
    (problem,) = shared_problems(differ)
    assert problem.startswith("c:")


def test_video_from_zero_only_where_video_is_encoded_and_the_mode_is_free() -> None:
    """With audio renditions (a finite input), a late video is started at output time 0
    with the audio: -fps_mode cfr, unless the command chose a mode or has no video."""
    a = encoder_argv("ffmpeg -i %s -an -c:v libx264 -f mpegts -", "x", 4, "ffmpeg", False,
                     from_zero=True)
    assert a.argv[-3:] == ["-fps_mode", "cfr", "-"] and "-fps_mode" in a.added
    for cmd in ("ffmpeg -i %s -vn -c:a aac -f mpegts -", "ffmpeg -i %s -c copy -f mpegts -",
                "ffmpeg -i %s -c:v libx264 -vsync vfr -f mpegts -",
                "ffmpeg -i %s -c:v libx264 -fps_mode passthrough -f mpegts -"):
        assert encoder_argv(cmd, "x", 4, "ffmpeg", False, from_zero=True).argv.count(
            "-fps_mode") == cmd.count("-fps_mode")
    assert "-fps_mode" not in encoder_argv("ffmpeg -i %s -c:v libx264 -f mpegts -", "x", 4,
                                           "ffmpeg", False).argv
