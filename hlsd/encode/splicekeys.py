"""A rung encoder that keys the live input's marked splice frames (pure argv work).

hlsd.media.ptsmark gives every frame of a SCTE-35 input an even PTS but the splice frames
an odd one. With frame times exact in 90 kHz ticks (EXACT_TIMES: ffmpeg subtracts the
input's start time, even now, and its MPEG-TS muxer adds 1.4 s, even too) the keyframe
expression can test the parity: SPLICE_KEYFRAME forces a keyframe on those frames, and the
segmenter is told to cut there (hlsd.encode.livecuts).

A command that retimes frames (a frame rate, a deinterlacer doubling them, setpts) makes
times the mark does not survive (hlsd.config.commands.retimes: a config warning).
"""

from __future__ import annotations

from dataclasses import replace

from hlsd.config.commands import retimes
from hlsd.encode.ffmpeg import EncoderArgv, copies_or_drops_video

__all__ = ["EXACT_TIMES", "SPLICE_KEYFRAME", "keys_splices", "retimes"]

SPLICE_KEYFRAME = "+eq(mod(round(t*90000),2),1)"
EXACT_TIMES = ("-enc_time_base:v", "1:90000", "-fps_mode:v", "passthrough")
def keys_splices(encoder: EncoderArgv) -> EncoderArgv | None:
    """The encoder with SPLICE_KEYFRAME in the keyframe grid hlsd added, frame times exact;
    the same encoder for one that writes no video; None when it cannot be done (its own
    keyframe options or frame timing)."""
    if copies_or_drops_video(encoder.argv):
        return encoder
    argv = list(encoder.argv)
    try:
        at = argv.index("-force_key_frames")
    except ValueError:
        return None
    grid = argv[at + 1]
    if "-force_key_frames" not in encoder.added or not grid.startswith("expr:"):
        return None  # the command's own keyframes
    if retimes(argv) is not None:
        return None
    argv[at + 1] = grid + SPLICE_KEYFRAME
    argv[-1:-1] = EXACT_TIMES
    return replace(encoder, argv=argv, added=(*encoder.added, *EXACT_TIMES, SPLICE_KEYFRAME))
