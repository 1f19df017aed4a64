"""Command line: arguments and exit codes only (0 ok, 1 runtime error, 2 invalid config)."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

import structlog
import yaml

from hlsd import __version__
from hlsd import config as cfg
from hlsd.service import logs

EXIT_OK, EXIT_RUNTIME, EXIT_CONFIG = 0, 1, 2


# The help texts: what each command does, its signals, exit codes (0/1/2 as above) and an
# example. README.md's "Commands" section says the same.
SIGNALS = """\
signals:
  SIGHUP           reload the config: validated first; an invalid file is logged and
                   the running config stays
  SIGTERM, SIGINT  stop gracefully: the segment in flight is finished and published,
                   children get SIGTERM, then SIGKILL after a grace period
  second SIGINT    stop at once"""

MAIN_HELP = """\
commands:
  run CONFIG    run the daemon in the foreground
  check CONFIG  validate a config and print the effective settings; no side effects
  demo          stream a test pattern and serve it with a player page
  cue CONFIG    open an ad break at the next segment boundary of the running daemon
Each has its own --help (what it does, signals, exit codes, an example).

exit codes:
  0  clean stop, finished input, or a valid config
  1  fatal runtime error (logged)
  2  invalid config or arguments (every problem on stderr)

examples:
  hlsd check /etc/hlsd/cam1.yaml
  hlsd run /etc/hlsd/cam1.yaml
  hlsd demo"""

RUN_ABOUT = """\
Runs the daemon in the foreground: reads the input, encodes it once per encoding
profile, segments it and publishes the segments and playlists to every transfer profile.
A live input runs until a signal stops hlsd: an encoder that exits is restarted with
backoff, a lost input is waited for. A finite input (a regular file, unless live: true)
is published to its end, the playlists get #EXT-X-ENDLIST, and hlsd exits 0. CONFIG is
validated first, as by `hlsd check`."""

RUN_HELP = f"""\
{SIGNALS}

exit codes:
  0  stopped by SIGTERM/SIGINT, or a finite input published to its end
  1  fatal runtime error (logged)
  2  invalid config (every problem on stderr; nothing was started)

example:
  hlsd run /etc/hlsd/cam1.yaml     # as a service: systemctl start hlsd@cam1"""

CHECK_ABOUT = """\
Validates CONFIG and prints the effective settings as YAML on stdout: every default
filled in, secrets as ***, how the input is read (input: file, pull, listener, stdin),
the ffmpeg hlsd will use and its version, each encoder's final command and, for a live
input hlsd opens itself, each input reader's. Warnings go to stderr (a world-readable
file holding secrets, an SFTP destination with no key or known_hosts...). Starts
nothing, writes nothing."""

CHECK_HELP = """\
exit codes:
  0  valid (warnings may be printed)
  2  invalid: one line per problem on stderr (key path, what is wrong, what is allowed)

example:
  hlsd check /etc/hlsd/cam1.yaml && systemctl reload hlsd@cam1"""

DEMO_ABOUT = """\
Runs the embedded default: a live synthetic test pattern with a tone, as a small ladder
(360p, 180p, 64 kbit/s audio) in 2 s segments, copied to DIR/www and served over HTTP
with a player page; prints the URL to open."""

DEMO_HELP = """\
signals:
  SIGTERM, SIGINT  stop gracefully (Ctrl-C); a second SIGINT stops at once

exit codes:
  0  stopped with Ctrl-C (SIGINT) or SIGTERM
  1  fatal runtime error (logged)
  2  --hls-js-path names no file

example:
  hlsd demo --listen 0.0.0.0 --port 8080    # then open http://HOST:8080/"""


CUE_ABOUT = """\
Asks the daemon running CONFIG (through temp_dir/control.sock) for an ad break: it opens
at the next segment boundary on every rung, as #EXT-X-DATERANGE (SCTE35-OUT, a
splice_insert hlsd builds, PLANNED-DURATION) and returns at the first boundary at or
after START-DATE + DURATION. Prints the break's ID and START-DATE once it opened."""

CUE_HELP = """\
exit codes:
  0  the break opened: its ID and START-DATE on stdout
  1  no daemon runs for CONFIG, or it refused the cue (the reason on stderr)
  2  invalid config or arguments

example:
  hlsd cue /etc/hlsd/cam1.yaml --duration 30 --id break-0915"""


def _parser() -> argparse.ArgumentParser:
    raw = argparse.RawDescriptionHelpFormatter
    p = argparse.ArgumentParser(prog="hlsd", description="Live HTTP Live Streaming segmenter "
                                "and distributor.", epilog=MAIN_HELP, formatter_class=raw)
    p.add_argument("--version", action="version", version=f"hlsd {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="{run,check,demo,cue}")
    run = sub.add_parser("run", help="run the daemon in the foreground",
                         description=RUN_ABOUT, epilog=RUN_HELP,
                         formatter_class=raw)
    run.add_argument("config", type=Path, help="the YAML config file")
    check = sub.add_parser("check", help="validate a config and print the effective settings",
                           description=CHECK_ABOUT,
                           epilog=CHECK_HELP, formatter_class=raw)
    check.add_argument("config", type=Path, help="the YAML config file")
    demo = sub.add_parser("demo", help="stream a test pattern and serve it with a player page",
                          description=DEMO_ABOUT,
                          epilog=DEMO_HELP, formatter_class=raw)
    demo.add_argument("--dir", type=Path, default=Path("hlsd-demo"),
                      help="output folder: segments and playlists in DIR/www "
                           "(default ./hlsd-demo)")
    demo.add_argument("--port", type=int, default=8080, help="HTTP port (default 8080)")
    demo.add_argument("--listen", default="127.0.0.1", metavar="ADDRESS",
                      help="HTTP address (default 127.0.0.1; 0.0.0.0 for every interface)")
    demo.add_argument("--hls-js-url", metavar="URL",
                      help="where the player page loads hls.js from when no local copy is "
                           "found (default: the jsDelivr CDN)")
    demo.add_argument("--hls-js-path", metavar="FILE", type=Path,
                      help="a local hls.js (hls.min.js) the origin serves to the player page; "
                           "default: $HLSD_HLS_JS, else the one scripts/demo installs")
    cue = sub.add_parser("cue", help="open an ad break in the running daemon",
                         description=CUE_ABOUT, epilog=CUE_HELP, formatter_class=raw)
    cue.add_argument("config", type=Path, help="the running daemon's YAML config file")
    cue.add_argument("--duration", type=float, required=True, metavar="S",
                     help="the break's planned duration in seconds")
    cue.add_argument("--id", dest="ident", metavar="ID",
                     help="the DATERANGE ID (default: hlsd-<epoch ms>)")
    return p


def _load(path: Path) -> cfg.Config | None:
    try:
        return cfg.load(path)
    except cfg.ConfigError as exc:
        _invalid(str(path), exc)
        return None


def _invalid(what: str, exc: cfg.ConfigError) -> None:
    print(f"hlsd: {what}: invalid config ({len(exc.problems)} problem"
          f"{'s' if len(exc.problems) != 1 else ''}):", file=sys.stderr)
    for problem in exc.problems:
        print(f"  {problem}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "check":
        return check(args.config)
    if args.command == "demo":
        from hlsd.demo import announce, demo_config

        try:
            demo = demo_config(args.dir, args.listen, args.port, args.hls_js_url,
                               args.hls_js_path)
        except cfg.ConfigError as exc:  # e.g. --hls-js-path names no file
            _invalid("demo", exc)
            return EXIT_CONFIG
        return run_config(demo, on_listening=announce(demo))
    if args.command == "cue":
        return cue(args.config, args.duration, args.ident)
    config = _load(args.config)
    return EXIT_CONFIG if config is None else run_config(config)


def cue(path: Path, duration: float, ident: str | None) -> int:
    from hlsd.service.control import SOCKET_NAME, ControlError, send_cue

    config = _load(path)
    if config is None:
        return EXIT_CONFIG
    if not 0 < duration <= 86_400 or (ident is not None and not ident.strip()):
        print("hlsd: cue: --duration must be seconds > 0 (at most a day), --id not empty",
              file=sys.stderr)
        return EXIT_CONFIG
    try:
        reply = send_cue(config.temp_dir / SOCKET_NAME, duration, ident,
                         wait=30.0 + 4 * config.target_duration)
    except ControlError as exc:
        print(f"hlsd: cue: {exc}", file=sys.stderr)
        return EXIT_RUNTIME
    print(f"ID={reply['id']} START-DATE={reply['start_date']}")
    return EXIT_OK


def check(path: Path) -> int:
    from hlsd.check import effective_settings

    config = _load(path)
    if config is None:
        return EXIT_CONFIG
    for warning in config.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(yaml.safe_dump(effective_settings(config), sort_keys=False, allow_unicode=True), end="")
    return EXIT_OK


def run_config(config: cfg.Config,
               on_listening: Callable[[str], None] | None = None) -> int:
    logs.configure(config.log_level, config.log_type, config.log_file)
    try:
        with asyncio.Runner(loop_factory=loop_factory()) as runner:
            return runner.run(_run(config, on_listening))
    except KeyboardInterrupt:
        return EXIT_OK


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop when installed (a dependency on Linux): the origin answers a
    burst of LL-HLS players in about two thirds of the time (bench/origin.py).
    HLSD_EVENT_LOOP=asyncio keeps the standard one. None: the standard one."""
    if os.environ.get("HLSD_EVENT_LOOP", "uvloop") == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


async def _run(config: cfg.Config, on_listening: Callable[[str], None] | None) -> int:
    from hlsd.service.daemon import Controls, Daemon

    controls = Controls.create()
    daemon = Daemon(config, controls, on_listening=on_listening)
    loop = asyncio.get_running_loop()
    main_task = asyncio.current_task()
    interrupts = 0

    def on_stop(signum: int) -> None:
        nonlocal interrupts
        interrupts += signum == signal.SIGINT
        if controls.stop.is_set() and signum == signal.SIGINT and interrupts > 1:
            structlog.get_logger().warning("second interrupt: stopping now")
            if main_task is not None:
                main_task.cancel()
        controls.stop.set()

    loop.add_signal_handler(signal.SIGTERM, on_stop, signal.SIGTERM)
    loop.add_signal_handler(signal.SIGINT, on_stop, signal.SIGINT)
    loop.add_signal_handler(signal.SIGHUP, controls.reload.set)
    try:
        return await daemon.run()
    except asyncio.CancelledError:
        return EXIT_OK
