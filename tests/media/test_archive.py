"""hlsd.media.archive: recording periods, part names and the per-part master."""

from __future__ import annotations

from datetime import UTC, datetime

from hlsd.media.archive import PartName, master_for_part, period_start

TEN = datetime(2026, 3, 2, 10, 0, tzinfo=UTC).timestamp()


def test_periods_are_aligned_on_the_wall_clock() -> None:
    assert period_start(TEN + 3599.9, 3600) == TEN
    assert period_start(TEN + 3600, 3600) == TEN + 3600
    assert period_start(TEN + 25, 20) == TEN + 20


def test_a_run_begun_mid_period_never_takes_the_period_name() -> None:
    names = PartName("live", 3600, run_started=TEN + 754)
    assert names.tag(TEN) == "20260302T100000Z_101234"  # the run began within it
    assert names.tag(TEN + 3600) == "20260302T110000Z"  # the run saw it begin
    assert names.variant("ep_720p", "20260302T110000Z") == "live_ep_720p_20260302T110000Z.m3u8"
    assert names.master("20260302T110000Z") == "live_20260302T110000Z.m3u8"
    assert PartName("live", 3600, TEN + 755).tag(TEN) != names.tag(TEN)


def test_master_names_the_parts_beside_it() -> None:
    live = "\n".join([
        "#EXTM3U", "#EXT-X-CONTENT-STEERING:SERVER-URI=\"live-steering.json\"",
        '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="es",URI="https://a/live_es.m3u8"',
        "#EXT-X-STREAM-INF:BANDWIDTH=1000", "https://a.example.com/live/live_hi.m3u8",
        '#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=100,URI="live_hi_iframes.m3u8"'])
    text = master_for_part(live, {"live_hi.m3u8": "live_hi_T.m3u8",
                                  "live_es.m3u8": "live_es_T.m3u8"})
    assert text.splitlines() == [
        "#EXTM3U", '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="es",URI="live_es_T.m3u8"',
        "#EXT-X-STREAM-INF:BANDWIDTH=1000", "live_hi_T.m3u8"]
