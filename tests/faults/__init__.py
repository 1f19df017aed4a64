"""Fault-injection tests: hlsd driven as a black box through real faults (dead input,
killed or hung children, refused destinations, full or read-only disks, signal storms),
every scenario watched by an RFC 8216 checker (watcher.py). Run alone: `pytest -m faults`.
"""
