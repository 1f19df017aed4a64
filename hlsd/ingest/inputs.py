"""The inputs the ingest stage opens, as plain data: which are listeners, and the argv of the
reader that relays each one as MPEG-TS (pure: nothing is run).

A reader is `ffmpeg <input options> -i URL -c copy -f mpegts -`: it opens and probes the
input once and keeps it open, so the encoders behind it never probe a network input
themselves. The input options of the operator's ffmpeg_command (everything before its
`-i %s` that is about the input: -re, -f, -listen, -stream_loop...) go to the reader; what
is about decoding or the program (-threads, -hwaccel, -loglevel...) stays with the encoder.
"""

from __future__ import annotations

import itertools
import shlex
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

__all__ = ["ENCODER_FEED_OPTIONS", "InputSpec", "input_specs", "is_listener",
           "split_input_options"]

# What ffmpeg needs to start on a network input quickly: ~1 s of probing rather than its
# default 5 s (which made a returning UDP input publish 8.8 s late).
PROBE_OPTIONS = ("-probesize", "1000000", "-analyzeduration", "1000000")
# A publisher connecting to a listener starts with its headers and a keyframe: half that.
LISTENER_PROBE_OPTIONS = ("-probesize", "1000000", "-analyzeduration", "500000")
# The encoders read the readers' MPEG-TS from a pipe, starting at a keyframe (primed with
# the source's last GOP): a short probe finds every stream in its first packets.
ENCODER_FEED_OPTIONS = ("-f", "mpegts", *PROBE_OPTIONS)
# Relay whole packets as they come (an AVIO buffer would hold ~1 s of a small stream, and
# loss would be noticed that much later). Data streams too: a SCTE-35 PID (ffmpeg 5.1 knows
# it when the PMT's program loop has the CUEI descriptor) comes out as private-data PES,
# each section unchanged (hlsd.ingest.splices); the encoders map no data stream. A sparse
# stream would hold the others back up to 10 s (the default -max_interleave_delta): 1 µs
# writes each packet as it comes.
RELAY_OUTPUT = ("-map", "0:v:0?", "-map", "0:a?", "-map", "0:d?", "-c", "copy",
                "-max_interleave_delta", "1", "-f", "mpegts", "-flush_packets", "1", "-")
# timeline: locked: the input's own timestamps, untouched (hlsd.encode.locked); a SCTE-35
# splice_time is on that clock too (hlsd.media.livesplices).
COPYTS = ("-copyts",)
# Else the MPEG-TS muxer adds 1.4 s, and a start in the minute before the 33-bit wrap
# (ffmpeg then counts the timestamps before it as negative) moves them all up to 0.
KEEP_TIMESTAMPS = ("-mpegts_copyts", "1", "-avoid_negative_ts", "disabled")
# An uncompressed input (a capture device's raw picture, PCM sound) cannot be relayed as
# it is: its reader then encodes a mezzanine, near lossless and quick, with a keyframe
# every second, which the rungs encode again.
MEZZANINE = ("-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-crf", "15",
             "-pix_fmt", "yuv420p", "-force_key_frames", "expr:gte(t,n_forced)",
             "-c:a", "aac", "-b:a", "192k")
# Options before -i that take no value.
FLAGS = frozenset({"-re", "-y", "-n", "-hide_banner", "-nostdin", "-nostats", "-stats",
                   "-copyts", "-start_at_zero", "-vn", "-an", "-sn", "-dn", "-benchmark",
                   "-accurate_seek", "-noaccurate_seek", "-autorotate", "-noautorotate",
                   "-ignore_unknown"})
# Options before -i that belong to the encoder: the program, decoding, hardware.
ENCODER_SIDE = frozenset({"-hide_banner", "-loglevel", "-v", "-y", "-n", "-nostats",
                          "-stats", "-nostdin", "-benchmark", "-threads", "-filter_threads",
                          "-filter_complex_threads", "-hwaccel", "-hwaccel_device",
                          "-hwaccel_output_format", "-init_hw_device", "-filter_hw_device",
                          "-c", "-c:v", "-c:a", "-codec", "-codec:v", "-codec:a", "-vcodec",
                          "-acodec", "-autorotate", "-noautorotate", "-thread_queue_size"})
LISTEN_HOSTS = frozenset({"0.0.0.0", "::", "[::]", ""})


@dataclass(frozen=True)
class InputSpec:
    label: str  # "primary", "backup 1", ...: how logs, /healthz and metrics name it
    location: str
    listener: bool  # waits for a publisher (SRT/RTMP/TCP listen): re-opened at once
    argv: tuple[str, ...]  # the reader
    added: tuple[str, ...]  # what hlsd put into it (shown by `hlsd check`)
    mezzanine: tuple[str, ...] = ()  # the reader for an uncompressed input (hlsd's own only)


def mezzanine_argv(argv: list[str]) -> list[str]:
    """hlsd's reader made to encode rather than copy; [] for another reader."""
    tail = list(RELAY_OUTPUT)
    if argv[-len(tail):] != tail:
        return []
    at = len(argv) - len(tail) + tail.index("-c")
    return [*argv[:at], *MEZZANINE, *argv[at + 2:]]


def keeping_timestamps(argv: list[str]) -> tuple[list[str], list[str]]:
    """A reader's argv keeping the input's timestamps, and what that added."""
    at = len(argv) - 1 - argv[::-1].index("-i")
    head, tail = argv[:at], argv[at:]
    added: list[str] = []
    if "-copyts" not in head:
        head, added = [*head, *COPYTS], [*COPYTS]
    if "-mpegts_copyts" not in tail:
        tail = [*tail[:-1], *KEEP_TIMESTAMPS, tail[-1]]
        added += KEEP_TIMESTAMPS
    return [*head, *tail], added


def split_input_options(options: list[str]) -> tuple[list[str], list[str]]:
    """(encoder-side, input-side) options of those before an ffmpeg command's `-i`."""
    encoder: list[str] = []
    reader: list[str] = []
    i = 0
    while i < len(options):
        opt = options[i]
        takes_value = opt.startswith("-") and opt not in FLAGS and i + 1 < len(options)
        group = options[i:i + 2] if takes_value else options[i:i + 1]
        (encoder if opt in ENCODER_SIDE else reader).extend(group)
        i += len(group)
    return encoder, reader


def is_listener(location: str, options: list[str] | tuple[str, ...] = ()) -> bool:
    """Does this input wait for a publisher? SRT `mode=listener`, `listen=1` in the query
    (tcp, http), `-listen 1`, or an RTMP URL on a local wildcard address."""
    if any(a == "-listen" and b != "0" for a, b in itertools.pairwise(options)):
        return True
    try:
        url = urlsplit(location)
        query = parse_qs(url.query)
        host = url.hostname or ""
    except ValueError:
        return False
    if url.scheme == "srt":
        return query.get("mode", [""])[0] == "listener"
    if query.get("listen", ["0"])[0] not in ("0", ""):
        return True
    return url.scheme in ("rtmp", "rtmps") and host in LISTEN_HOSTS


def _has(argv: list[str], option: str) -> bool:
    return any(a == option or a.startswith(option + ":") for a in argv)


def reader_argv(ffmpeg: str, location: str, input_options: list[str],
                source_command: str | None) -> tuple[list[str], list[str]]:
    """(argv, what hlsd added) of the reader of `location`."""
    added: list[str] = []
    if source_command is not None:
        argv = [a.replace("%s", location) for a in shlex.split(source_command)]
        is_ffmpeg = argv[0].endswith("ffmpeg")
        if argv[0] == "ffmpeg":
            argv[0] = ffmpeg  # the one hlsd found (PATH, else imageio-ffmpeg's)
        if not is_ffmpeg or "-i" not in argv:
            return argv, added  # a reader of the operator's own kind: as written
        at = len(argv) - 1 - argv[::-1].index("-i")
        head, tail = argv[:at], argv[at:]
    else:
        head, tail = [ffmpeg, "-hide_banner", *input_options], ["-i", location, *RELAY_OUTPUT]
    extra: list[str] = []
    probe = LISTENER_PROBE_OPTIONS if is_listener(location, head) else PROBE_OPTIONS
    for opt, value in zip(probe[::2], probe[1::2], strict=True):
        if not _has(head, opt):
            extra += [opt, value]
    url = urlsplit(location)
    if url.scheme in ("rtmp", "rtmps") and is_listener(location) and not _has(head, "-listen"):
        extra += ["-listen", "1"]
    if "-nostats" not in head and "-stats" not in head:
        extra.insert(0, "-nostats")  # progress lines are noise in logs, errors are not
    if "-nostdin" not in head:
        extra.insert(0, "-nostdin")
    argv = [head[0], *extra, *head[1:], *tail]
    added += extra
    if source_command is not None and not _has(tail, "-flush_packets"):
        argv[-1:-1] = ["-flush_packets", "1"]
        added += ["-flush_packets", "1"]
    return argv, added


def input_specs(ffmpeg: str, primary: str, backups: tuple[str, ...],
                input_options: list[str], source_command: str | None,
                locked: bool = False) -> list[InputSpec]:
    specs = []
    for i, location in enumerate((primary, *backups)):
        argv, added = reader_argv(ffmpeg, location, input_options, source_command)
        mezzanine = mezzanine_argv(argv)
        # Not otherwise: without -copyts ffmpeg re-bases a source that starts again
        # (a restarted publisher's timestamps go back); with it, it would clamp them.
        if locked and "-i" in argv:
            argv, more = keeping_timestamps(argv)
            added += more
            mezzanine = keeping_timestamps(mezzanine)[0] if mezzanine else []
        # What the reader is told decides (a source_command's own -listen 1 included).
        specs.append(InputSpec("primary" if i == 0 else f"backup {i}", location,
                               is_listener(location, argv[:argv.index("-i")] if "-i" in argv
                                           else input_options), tuple(argv), tuple(added),
                               tuple(mezzanine)))
    return specs
