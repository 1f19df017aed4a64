"""`pathways` (hlsd.config.pathways through hlsd.config.parse): the valid forms, and every
mistake reported once, with its key path."""

from __future__ import annotations

from typing import Any

import pytest

from hlsd import config as cfg
from tests.config.test_loader import base, problems

A = {"id": "a", "url_prefix": "https://a.example.com/live/"}
B = {"id": "b", "url_prefix": "https://b.example.com/live/"}


def whats(raw: dict[str, Any]) -> dict[str, str]:
    return {p.path: p.what for p in problems(raw)}


def warnings_of(raw: dict[str, Any]) -> dict[str, str]:
    return dict(w.split(": ", 1) for w in cfg.parse(raw).warnings)


# -- valid forms ----------------------------------------------------------------------------------

@pytest.mark.parametrize("value", [None, []])
def test_absent_or_empty_means_no_steering(value: Any) -> None:
    assert cfg.parse(base(pathways=value)).pathways == ()


def test_pathways_keep_their_order() -> None:
    c = cfg.parse(base(pathways=[B, A]))
    assert c.pathways == (cfg.Pathway("b", "https://b.example.com/live/"),
                          cfg.Pathway("a", "https://a.example.com/live/"))
    assert c.warnings == ()


def test_ids_and_prefixes_of_every_allowed_form() -> None:
    raw = [{"id": "cdn-1.east_A", "url_prefix": "http://10.0.0.1:8080/live/"},
           {"id": 2, "url_prefix": "/west/live/"},
           {"id": "x", "url_prefix": "../mirror/"},
           {"id": "v6", "url_prefix": "https://[2001:db8::1]/live/"}]
    c = cfg.parse(base(pathways=raw))
    assert [p.id for p in c.pathways] == ["cdn-1.east_A", "2", "x", "v6"]
    assert c.pathways[1].url_prefix == "/west/live/"


def test_one_pathway_is_valid_but_warned_about() -> None:
    c = cfg.parse(base(pathways=[A]))
    assert c.pathways == (cfg.Pathway("a", "https://a.example.com/live/"),)
    assert "nowhere" not in warnings_of(base(pathways=[A, B])).get("pathways", "")
    assert "no other host" in warnings_of(base(pathways=[A]))["pathways"]


def test_an_absolute_url_prefix_for_segments_is_warned_about() -> None:
    warned = warnings_of(base(pathways=[A, B], url_prefix="https://cdn.example.com/live/"))
    assert "segments on that one host" in warned["url_prefix"]
    assert "url_prefix" not in warnings_of(base(url_prefix="https://cdn.example.com/live/"))
    assert "url_prefix" not in warnings_of(base(pathways=[A, B], url_prefix="seg/"))


def test_two_pathways_to_the_same_place_are_warned_about() -> None:
    warned = warnings_of(base(pathways=[A, {**B, "url_prefix": A["url_prefix"]}]))
    assert "pathways[0]" in warned["pathways[1].url_prefix"]


def test_the_check_output_lists_them() -> None:
    from hlsd.check import _plain

    plain = _plain(cfg.parse(base(pathways=[A, B])))
    assert plain["pathways"] == [A, B]


# -- problems -------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["a", {"a": "https://a/"}, 3, True])
def test_pathways_must_be_a_list(value: Any) -> None:
    found = whats(base(pathways=value))
    assert list(found) == ["pathways"]


@pytest.mark.parametrize("item", ["a", ["a", "https://a/"], None, 3])
def test_each_pathway_must_be_a_mapping(item: Any) -> None:
    assert list(whats(base(pathways=[A, item]))) == ["pathways[1]"]


@pytest.mark.parametrize("pathway_id", ["", "a b", "é", "a/b", 'a"', "a,b", True, 1.5, ["a"],
                                        {"x": 1}])
def test_an_id_outside_the_rfc_characters(pathway_id: Any) -> None:
    found = whats(base(pathways=[A, {**B, "id": pathway_id}]))
    assert list(found) == ["pathways[1].id"]


def test_missing_keys_one_problem_each() -> None:
    found = whats(base(pathways=[{"url_prefix": "https://a/"}, {"id": "b"}]))
    assert found == {"pathways[0].id": "is missing", "pathways[1].url_prefix": "is missing"}


def test_an_id_listed_twice_is_named_by_its_second_place() -> None:
    found = whats(base(pathways=[A, B, {**B, "url_prefix": "https://c.example.com/"}]))
    assert list(found) == ["pathways[2].id"]
    assert "pathways[1]" in found["pathways[2].id"]


def test_an_id_listed_twice_is_found_even_when_the_first_has_another_mistake() -> None:
    found = whats(base(pathways=[{**A, "url_prefix": "ftp://a/"}, {**B, "id": "a"}]))
    assert set(found) == {"pathways[0].url_prefix", "pathways[1].id"}


def test_an_unknown_key_gets_a_suggestion() -> None:
    found = whats(base(pathways=[A, {**B, "url_prefx": "x/"}]))
    assert "did you mean 'url_prefix'" in found["pathways[1].url_prefx"]


@pytest.mark.parametrize("prefix", [
    "https://a.example.com/live",  # no trailing '/'
    "live",
    "ftp://a.example.com/live/",
    "s3://bucket/live/",
    "https:///live/",  # no host
    "https://a.example.com/live/?token=1/",
    "https://a.example.com/live/#x/",
    "https://a.example.com/my live/",
    'https://a.example.com/"live"/',
    "https://a.example.com/\tlive/",
    "https://[::1/live/",
    "",
    42,
    ["https://a/"],
])
def test_a_url_prefix_that_cannot_prefix_variant_uris(prefix: Any) -> None:
    found = whats(base(pathways=[A, {**B, "url_prefix": prefix}]))
    assert list(found) == ["pathways[1].url_prefix"], found


def test_credentials_in_a_prefix_are_refused_and_never_echoed() -> None:
    raw = base(pathways=[A, {**B, "url_prefix": "https://user:s3cret@b.example.com/live/"}])
    (problem,) = problems(raw)
    assert problem.path == "pathways[1].url_prefix" and "credentials" in problem.what
    assert "s3cret" not in str(problem)


def test_every_mistake_at_once() -> None:
    found = whats(base(pathways=[{"id": "a b", "url_prefix": "ftp://x/"}, {"id": "b"},
                                 "c"]))
    assert set(found) == {"pathways[0].id", "pathways[0].url_prefix",
                          "pathways[1].url_prefix", "pathways[2]"}
