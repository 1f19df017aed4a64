"""Soak: does a running daemon stay flat? A live 3-rung ladder to a copy destination and an
FTP server, with the HTTP origin, for `--minutes`; resource figures sampled every minute.

    python bench/soak.py [--minutes 30] [--interval 60] [--segment-length 2] [--keep DIR]

The daemon is the real `hlsd run` (a subprocess, observed from outside only, so the bench
does not depend on hlsd's internal layout); the FTP server is the tests' pyftpdlib fixture
on 127.0.0.1. One shared-decode ffmpeg encodes a live test pattern with a 440 Hz tone
into 640x360, 480x270 and 320x180 (H.264 + AAC). Every interval it records:

- rss_mb, fds, threads: the daemon process (/proc/PID/status, /proc/PID/fd);
- tasks: the daemon's asyncio tasks (`asyncio_tasks` in /info.json);
- queue_<dest>: hlsd_upload_queue_depth from /metrics (the mean of 5 reads over 1 s: a
  ladder's segments arrive together, so one read is mostly noise); skipped, restarts;
- av_ms: first audio PTS minus first video PTS of each 320x180 segment in the window
  (ffprobe), averaged: the muxer's interleaving moves it by tens of ms per segment;
- pdt_lag_s: when each segment in the window was finished (its file's mtime) minus its
  end by PROGRAM-DATE-TIME + EXTINF, averaged: the cut delay plus any drift of the
  playlist clock against the wall clock (sampling "now" instead would add a sawtooth);
- children, child_rss_mb: the encoder and segmenters, to catch a leak there too;
- cpu_pct: the daemon's own CPU use over the interval.

At the end: a markdown table, and per figure its change over the run, its least-squares
slope per hour with the slope's standard error (the first sample, taken while everything
warms up, left out), and a verdict: "flat" (slope within the figure's limit), "GROWS" /
"SHRINKS" (beyond the limit and beyond twice its standard error), or "noisy" (beyond the
limit but not significant: run longer). Not run in CI; it asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from tests.fixtures.ftp_server import FtpServer  # noqa: E402

SOURCE = ("ffmpeg -re -f lavfi -i testsrc2=size=640x360:rate=25 "
          "-re -f lavfi -i sine=frequency=440:sample_rate=48000")
X264 = "-c:v libx264 -preset ultrafast -tune zerolatency -pix_fmt yuv420p"
RUNGS = {"r360": "-s 640x360 -b:v 800k", "r270": "-s 480x270 -b:v 500k",
         "r180": "-s 320x180 -b:v 250k"}
PROBED = "r180"
CLK_TCK = os.sysconf("SC_CLK_TCK")
# Growth per hour above which a figure is called growing (noise below that is expected).
LIMITS = {"rss_mb": 5.0, "fds": 2.0, "threads": 2.0, "queue_www": 1.0, "queue_ftp": 1.0,
          "av_ms": 20.0, "pdt_lag_s": 0.5, "children": 0.5, "child_rss_mb": 10.0,
          "tasks": 2.0}


def write_config(work: Path, ftp: FtpServer, segment_length: float) -> Path:
    raw: dict[str, Any] = {
        "temp_dir": str(work / "work"), "input_location": "lavfi", "live": True,
        "segment_length": segment_length, "index_segment_count": 6, "log_level": "INFO",
        "encoding_profile": list(RUNGS), "transfer_profile": ["www", "ftp"],
        "http": {"listen": "127.0.0.1", "port": 0},
        "www": {"transfer_type": "copy", "directory": str(work / "www")},
        "ftp": {"transfer_type": "ftp", "remote_host": ftp.host, "port": ftp.port,
                "user_name": ftp.user, "password": ftp.password, "directory": "/live"},
    }
    for name, options in RUNGS.items():
        raw[name] = {"ffmpeg_command": f"{SOURCE} {X264} {options} -c:a aac -b:a 96k "
                                       "-f mpegts -"}
    config = work / "soak.yaml"
    config.write_text(yaml.safe_dump(raw, sort_keys=False))
    return config


def status(pid: int) -> dict[str, str]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return fields


def cpu_seconds(pid: int) -> float:
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(stat[11]) + int(stat[12])) / CLK_TCK  # utime + stime


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError):
                continue
            if ppid == pid:
                found.append(int(entry.name))
    return found


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return str(response.read().decode())


def metric_sum(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name):
            continue
        match = re.match(r"([a-z_]+)(\{[^}]*\})? ([0-9.eE+-]+)", line)
        if not match or match[1] != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match[2] or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            total += float(match[3])
    return total


def window(www: Path, rung: str) -> list[tuple[Path, datetime, float]]:
    """The segments of a variant playlist, each with its PROGRAM-DATE-TIME and EXTINF."""
    try:
        lines = (www / f"live_{rung}.m3u8").read_text().splitlines()
    except FileNotFoundError:
        return []
    pdt, extinf, found = None, 0.0, []
    for line in lines:
        if line.startswith("#EXT-X-PROGRAM-DATE-TIME:"):
            pdt = datetime.fromisoformat(line.split(":", 1)[1].replace("Z", "+00:00"))
        elif line.startswith("#EXTINF:"):
            extinf = float(line[8:].split(",")[0])
        elif line and not line.startswith("#") and pdt is not None:
            found.append((www / line, pdt, extinf))
    return found


def av_offset_ms(segment: Path) -> float | None:
    """First audio PTS minus first video PTS in one segment, in milliseconds."""
    done = subprocess.run(["ffprobe", "-v", "error", "-show_entries",
                           "stream=codec_type,start_time", "-of", "json", str(segment)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return None
    starts = {s["codec_type"]: float(s["start_time"])
              for s in json.loads(done.stdout).get("streams", []) if "start_time" in s}
    if "audio" not in starts or "video" not in starts:
        return None
    return (starts["audio"] - starts["video"]) * 1000


def sample(pid: int, url: str, www: Path, minute: float, last_cpu: tuple[float, float]
           ) -> tuple[dict[str, Any], tuple[float, float]]:
    st = status(pid)
    kids = children(pid)
    kid_rss = 0.0
    for kid in kids:
        with contextlib.suppress(OSError, KeyError):  # gone meanwhile
            kid_rss += int(status(kid)["VmRSS"].split()[0]) / 1024
    queues: dict[str, list[float]] = {"www": [], "ftp": []}
    for _ in range(5):
        metrics = get(url + "metrics")
        for dest, depths in queues.items():
            depths.append(metric_sum(metrics, "hlsd_upload_queue_depth", destination=dest))
        time.sleep(0.2)
    info = json.loads(get(url + "info.json"))
    now_cpu = (time.monotonic(), cpu_seconds(pid))
    row: dict[str, Any] = {
        "minute": round(minute, 1),
        "rss_mb": int(st["VmRSS"].split()[0]) / 1024,
        "fds": len(os.listdir(f"/proc/{pid}/fd")),
        "threads": int(st["Threads"]),
        "tasks": info.get("asyncio_tasks", "n/a"),
        "queue_www": sum(queues["www"]) / len(queues["www"]),
        "queue_ftp": sum(queues["ftp"]) / len(queues["ftp"]),
        "skipped": metric_sum(metrics, "hlsd_segments_skipped_total"),
        "restarts": metric_sum(metrics, "hlsd_encoder_restarts_total"),
        "segments": metric_sum(metrics, "hlsd_segments_total"),
        "av_ms": None, "pdt_lag_s": None,
        "children": len(kids), "child_rss_mb": kid_rss,
        "cpu_pct": 100 * (now_cpu[1] - last_cpu[1]) / max(1e-9, now_cpu[0] - last_cpu[0]),
    }
    segments = window(www, PROBED)
    if segments:
        lags = []
        for path, pdt, extinf in segments:
            with contextlib.suppress(FileNotFoundError):
                lags.append(path.stat().st_mtime - pdt.timestamp() - extinf)
        row["pdt_lag_s"] = sum(lags) / len(lags) if lags else None
        offsets = [o for o in (av_offset_ms(path) for path, _, _ in segments) if o is not None]
        row["av_ms"] = sum(offsets) / len(offsets) if offsets else None
    return row, now_cpu


def slope_per_hour(rows: list[dict[str, Any]], key: str) -> tuple[float, float] | None:
    """Least-squares slope per hour and its standard error, warm-up sample left out."""
    points = [(r["minute"] / 60, float(r[key])) for r in rows[1:]
              if isinstance(r.get(key), int | float)]
    if len(points) < 3:
        return None
    mx = sum(x for x, _ in points) / len(points)
    my = sum(y for _, y in points) / len(points)
    sxx = sum((x - mx) ** 2 for x, _ in points)
    if not sxx:
        return None
    slope = sum((x - mx) * (y - my) for x, y in points) / sxx
    residual = sum((y - my - slope * (x - mx)) ** 2 for x, y in points)
    return slope, (residual / (len(points) - 2) / sxx) ** 0.5


def verdict(fit: tuple[float, float] | None, limit: float) -> str:
    if fit is None:
        return "n/a"
    slope, error = fit
    if abs(slope) <= limit:
        return "flat"
    if abs(slope) <= 2 * error:
        return "noisy (run longer)"
    return "GROWS" if slope > 0 else "SHRINKS"


def fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)


def report(rows: list[dict[str, Any]], minutes: float) -> str:
    keys = list(rows[0])
    out = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    out += ["| " + " | ".join(fmt(r[k]) for k in keys) + " |" for r in rows]
    out += ["", "| figure | first → last | slope per hour ± s.e. | limit | verdict |",
            "|---|---|---|---|---|"]
    for key, limit in LIMITS.items():
        fit = slope_per_hour(rows, key)
        change = f"{fmt(rows[1 if len(rows) > 1 else 0][key])} → {fmt(rows[-1][key])}"
        shown = "-" if fit is None else f"{fmt(fit[0])} ± {fmt(fit[1])}"
        out.append(f"| {key} | {change} | {shown} | {limit:g} | {verdict(fit, limit)} |")
    if minutes < 20:
        out.append("")
        out.append(f"Note: {minutes:g} minutes is short; slopes extrapolated to an hour are "
                   "noisy (the first minute's warm-up is left out).")
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--interval", type=float, default=60.0, help="seconds between samples")
    parser.add_argument("--segment-length", type=float, default=2.0)
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    args = parser.parse_args()

    work = args.keep or Path(tempfile.mkdtemp(prefix="hlsd-soak-"))
    work.mkdir(parents=True, exist_ok=True)
    ftp_root = work / "ftp"
    ftp_root.mkdir(exist_ok=True)
    ftp = FtpServer(ftp_root, work / "ftp.log")
    ftp.start()
    log = work / "hlsd.log"
    proc: subprocess.Popen[bytes] | None = None
    rows: list[dict[str, Any]] = []
    try:
        config = write_config(work, ftp, args.segment_length)
        with log.open("ab") as out:
            proc = subprocess.Popen([sys.executable, "-m", "hlsd", "run", str(config)],
                                    stdout=out, stderr=subprocess.STDOUT)
        url = None
        deadline = time.monotonic() + 30
        while url is None and time.monotonic() < deadline:
            for line in log.read_text(errors="replace").splitlines():
                if '"http origin listening"' in line:
                    url = json.loads(line)["url"]
            time.sleep(0.2)
        if url is None:
            raise RuntimeError(f"no origin URL in {log}")
        started = time.monotonic()
        last_cpu = (started, cpu_seconds(proc.pid))
        print(f"soak: hlsd pid {proc.pid}, {url}, work {work}, {args.minutes:g} min",
              file=sys.stderr)
        end = started + args.minutes * 60
        next_at = started + args.interval
        while next_at <= end + 1:
            time.sleep(max(0.0, next_at - time.monotonic()))
            if proc.poll() is not None:
                raise RuntimeError(f"hlsd exited with {proc.returncode}; see {log}")
            row, last_cpu = sample(proc.pid, url, work / "www",
                                   (time.monotonic() - started) / 60, last_cpu)
            rows.append(row)
            print("soak: " + " ".join(f"{k}={fmt(v)}" for k, v in row.items()),
                  file=sys.stderr, flush=True)
            next_at += args.interval
    finally:
        code = None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                code = proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                code = proc.wait()
        ftp.stop()
    warnings = sum(1 for line in log.read_text(errors="replace").splitlines()
                   if '"level": "warning"' in line or '"level": "error"' in line)
    if rows:
        print(report(rows, args.minutes))
        print(f"\nhlsd exit code {code}; {warnings} warning/error log lines; log: {log}")
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
