"""`ad_markers` (hlsd.config.admarkers through hlsd.config.parse)."""

from __future__ import annotations

from hlsd import config as cfg
from tests.config.test_loader import base, problems


def test_daterange_by_default_and_the_legacy_cue_tags_on_request() -> None:
    assert cfg.parse(base()).ad_markers == ("daterange",)
    assert cfg.parse(base(ad_markers=["daterange", "cue"])).ad_markers == ("daterange", "cue")
    assert cfg.parse(base(ad_markers="cue")).ad_markers == ("cue",)


def test_one_message_per_bad_value_with_its_path() -> None:
    first, second = problems(base(ad_markers=["daterang", "cue", "cue"]))
    assert first.path == "ad_markers[0]" and "did you mean 'daterange'" in first.what
    assert "daterange, cue" in first.allowed
    assert second.path == "ad_markers[2]" and "listed twice" in second.what
    (empty,) = problems(base(ad_markers=[]))
    assert empty.path == "ad_markers" and "[]" in empty.what
    (mapping,) = problems(base(ad_markers={"daterange": True}))
    assert mapping.path == "ad_markers"
