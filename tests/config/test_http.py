"""The `http:` section's listeners (hlsd.config.http through hlsd.config.parse): the admin
listener on when either of its keys is set, the other defaulted; a warning when a listener
binds beyond loopback and exposes the admin routes."""

from __future__ import annotations

from typing import Any

import pytest

from hlsd import config as cfg
from hlsd.config.http import is_loopback
from tests.config.test_loader import base, problems


def http_of(**section: Any) -> cfg.HttpSettings:
    http = cfg.parse(base(http=section)).http
    assert http is not None
    return http


def warnings_of(**section: Any) -> dict[str, str]:
    return dict(w.split(": ", 1) for w in cfg.parse(base(http=section)).warnings)


def test_no_admin_listener_unless_asked() -> None:
    http = http_of(listen="127.0.0.1", port=8080)
    assert (http.admin_listen, http.admin_port) == (None, None)
    assert cfg.parse(base(http=True)).http == cfg.HttpSettings()


@pytest.mark.parametrize(("section", "expected"), [
    ({"admin_port": 9300}, ("127.0.0.1", 9300)),
    ({"admin_listen": "::1"}, ("::1", 9180)),
    ({"admin_listen": "127.0.0.2", "admin_port": 0}, ("127.0.0.2", 0)),
])
def test_either_admin_key_turns_the_listener_on_the_other_defaults(
        section: dict[str, Any], expected: tuple[str, int]) -> None:
    http = http_of(**section)
    assert (http.admin_listen, http.admin_port) == expected
    assert warnings_of(**section) == {}


def test_the_admin_port_is_not_the_viewers_port() -> None:
    (p,) = problems(base(http={"port": 8080, "admin_port": 8080}))
    assert p.path == "http.admin_port" and "http.port too" in p.what
    assert http_of(port=0, admin_port=0).admin_port == 0  # two free ports, both chosen


@pytest.mark.parametrize("value", [-1, 70000, "x", True])
def test_a_bad_admin_port_is_a_problem(value: Any) -> None:
    (p,) = problems(base(http={"admin_port": value}))
    assert p.path == "http.admin_port"


def test_unknown_keys_get_a_hint() -> None:
    (p,) = problems(base(http={"admin_prot": 9180}))
    assert p.path == "http.admin_prot" and "did you mean 'admin_port'" in p.what


@pytest.mark.parametrize("listen", ["0.0.0.0", "::", "", "192.0.2.10", "origin.example"])
def test_viewers_beyond_loopback_without_an_admin_listener_warn(listen: str) -> None:
    """The admin routes would answer every viewer: a warning naming the way out."""
    warned = warnings_of(listen=listen)
    assert set(warned) == {"http.listen"}
    assert "/metrics, /info.json and /healthz" in warned["http.listen"]
    assert "http.admin_port" in warned["http.listen"]
    assert warnings_of(listen=listen, admin_port=9180) == {}  # moved off: no warning


@pytest.mark.parametrize("admin", ["0.0.0.0", "10.1.2.3", "::"])
def test_an_admin_listener_beyond_loopback_warns(admin: str) -> None:
    warned = warnings_of(listen="0.0.0.0", admin_listen=admin)
    assert set(warned) == {"http.admin_listen"}
    assert "port 9180" in warned["http.admin_listen"]


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("127.8.9.10", True), ("::1", True), ("[::1]", True),
    ("localhost", True), ("LOCALHOST", True), ("0.0.0.0", False), ("::", False),
    ("", False), ("192.168.1.2", False), ("example.com", False)])
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
