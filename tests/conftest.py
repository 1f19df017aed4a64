"""Shared fixtures; the real servers live in tests/fixtures/ (one module each)."""

pytest_plugins = [
    "tests.fixtures.media",
    "tests.fixtures.ftp_server",
    "tests.fixtures.ssh_server",
    "tests.fixtures.s3_server",
]
