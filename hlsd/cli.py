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


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hlsd", description="Live HTTP Live Streaming segmenter "
                                "and distributor.")
    p.add_argument("--version", action="version", version=f"hlsd {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the daemon in the foreground")
    run.add_argument("config", type=Path)
    check = sub.add_parser("check", help="validate a config and print the effective settings")
    check.add_argument("config", type=Path)
    demo = sub.add_parser("demo", help="stream a test pattern and serve it with a player page")
    demo.add_argument("--dir", type=Path, default=Path("hlsd-demo"),
                      help="output folder (default ./hlsd-demo)")
    demo.add_argument("--port", type=int, default=8080, help="HTTP port (default 8080)")
    demo.add_argument("--listen", default="127.0.0.1", help="HTTP address")
    demo.add_argument("--hls-js-url", metavar="URL",
                      help="where the player page loads hls.js from when no local copy is "
                           "found (default: the jsDelivr CDN)")
    demo.add_argument("--hls-js-path", metavar="FILE", type=Path,
                      help="a local hls.js (hls.min.js) the origin serves to the player page; "
                           "default: $HLSD_HLS_JS, else the one scripts/demo installs")
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
    config = _load(args.config)
    return EXIT_CONFIG if config is None else run_config(config)


def check(path: Path) -> int:
    from hlsd.check import effective_settings

    config = _load(path)
    if config is None:
        return EXIT_CONFIG
    for warning in config.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(yaml.safe_dump(effective_settings(config), sort_keys=False), end="")
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
