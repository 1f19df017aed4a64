"""An encoder put on the input's own clock, for `timeline: locked` (pure argv work).

Redundant hosts fed the same source must cut at the same instants. The segmenter
(`--timeline locked`) cuts on a grid of the input's timestamps, unwrapped onto the wall
clock's 26.5-hour epoch (U = PTS + n × 2^33); the encoder must give it keyframes exactly
there, whenever it started:

- `-copyts` and `-mpegts_copyts 1` keep the input's timestamps through every hop (ffmpeg
  would otherwise start at 0, and its MPEG-TS muxer add 1.4 s);
- `-enc_time_base:v 1:90000`: frame times are not rounded to 1/fps in ffmpeg's own
  representation, which differs by whole wraps between a host that started just before
  the PTS wrap and one that started after it;
- a `select` filter drops the frames before the first grid boundary, so the encoder's
  first frame is on the grid: ffmpeg's `-force_key_frames` expressions count time from
  the first frame, and now that is a boundary, every later multiple of segment_length is
  one too (exact when a segment holds a whole number of frames: 2 s at 25, 30 or 50 fps,
  6.006 s at 29.97).
"""

from __future__ import annotations

from dataclasses import replace

from hlsd.config.commands import split_input
from hlsd.encode.ffmpeg import EncoderArgv, copies_or_drops_video, keyframe_grid
from hlsd.ingest.inputs import COPYTS, KEEP_TIMESTAMPS

__all__ = ["lock_encoder", "select_on_grid"]

WRAP_SECONDS = 2**33 / 90000  # the 33-bit 90 kHz clock wraps every 26.5 h
EXACT_TIMES = ("-enc_time_base:v", "1:90000", "-fps_mode:v", "passthrough")
KEYFRAME_OPTIONS = ("-force_key_frames",)  # ffmpeg takes one: ours


def unwrapped(t: str) -> str:
    """ffmpeg expression: U in seconds for the frame time `t` (wall clock picks the epoch,
    exactly as the segmenter does)."""
    w = f"{WRAP_SECONDS:.9f}"
    return f"(st(1,mod({t},{w}));ld(1)+{w}*round((time(0)-ld(1))/{w}))"


def select_on_grid(segment_length: float) -> str:
    """`select` expression: nothing until the first frame past a boundary of the grid of
    U, then everything."""
    length = f"{segment_length:g}"
    crossed = (f"gt(floor(({unwrapped('t')}+0.001)/{length}),"
               f"floor(({unwrapped('prev_t')}+0.001)/{length}))")
    return f"if(isnan(prev_selected_t),if(isnan(prev_t),0,{crossed}),1)"


def lock_encoder(encoder: EncoderArgv, segment_length: float) -> EncoderArgv:
    """The encoder's argv on the input's clock, with hlsd's keyframes on the grid whatever
    the command says (its own -force_key_frames would cut elsewhere; a -g only adds some)."""
    head, tail = split_input(encoder.argv)
    grid = keyframe_grid(segment_length)
    added: list[str] = []
    if "-copyts" not in head:
        head = [*head[:-2], *COPYTS, *head[-2:]]
        added += COPYTS
    out, target = tail[:-1], tail[-1:]
    if not copies_or_drops_video(encoder.argv):
        out = _without_keyframe_options(out)
        out = _with_select(out, segment_length)
        out += [*EXACT_TIMES, *grid]
        added += ["-vf", "select=…", *EXACT_TIMES, *grid]
    if "-mpegts_copyts" not in out:
        out += KEEP_TIMESTAMPS
        added += KEEP_TIMESTAMPS
    # The grid encoder_argv may have added is replaced by ours: listed once.
    earlier = [a for a in encoder.added if a not in grid]
    return replace(encoder, argv=[*head, *out, *target], added=(*earlier, *added))


def _without_keyframe_options(argv: list[str]) -> list[str]:
    kept: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg in KEYFRAME_OPTIONS or arg.startswith(tuple(k + ":" for k in KEYFRAME_OPTIONS)):
            skip = True
            continue
        kept.append(arg)
    return kept


def _with_select(argv: list[str], segment_length: float) -> list[str]:
    select = f"select='{select_on_grid(segment_length)}'"
    for i, arg in enumerate(argv[:-1]):
        if arg in ("-vf", "-filter:v", "-filter:v:0"):
            return [*argv[:i + 1], f"{select},{argv[i + 1]}", *argv[i + 2:]]
    return [*argv, "-vf", select]
