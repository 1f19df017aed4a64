"""hlsd.service.reconfigure: which dvr_window changes a reload applies at once."""

from __future__ import annotations

from hlsd import config as cfg
from hlsd.media.ladder import Ladder
from hlsd.publish.destinations import DestinationSet
from hlsd.service.metrics import Metrics
from hlsd.service.reconfigure import dvr_reloadable

ENCRYPTION = {"method": "AES-128", "key_url_prefix": "https://k/",
                    "key_transfer_profile": "keys"}


def config(window: float, encrypted: bool = False) -> cfg.Config:
    raw = {"temp_dir": "/tmp/w", "input_location": "rtmp://127.0.0.1/live", "live": True,
           "encoding_profile": "a", "transfer_profile": "www", "dvr_window": window,
           "a": {"ffmpeg_command": "ffmpeg -i %s -c:v libx264 -f mpegts -"},
           "www": {"transfer_type": "copy", "directory": "/tmp/www"},
           "keys": {"transfer_type": "copy", "directory": "/tmp/keys"}}
    if encrypted:
        raw["encryption"] = ENCRYPTION
    return cfg.parse(raw)


def running(window: float) -> DestinationSet:
    return DestinationSet(Ladder("live", 6), Metrics(), 1, dvr_window=window)


def test_a_window_changes_at_once_between_non_zero_values_only() -> None:
    assert dvr_reloadable(running(60), config(120))
    assert dvr_reloadable(running(60), config(30))
    assert not dvr_reloadable(running(60), config(60))  # no change
    assert not dvr_reloadable(running(0), config(60))  # turning it on: a restart
    assert not dvr_reloadable(running(60), config(0))  # turning it off: a restart


def test_with_encryption_no_longer_than_at_start() -> None:
    """The keys' grace was set at start: a window up to that one only, even after a
    shorter one was applied."""
    shrunk = running(60)
    assert dvr_reloadable(shrunk, config(30, encrypted=True))
    shrunk.set_dvr_window(30)
    assert dvr_reloadable(shrunk, config(60, encrypted=True))
    assert not dvr_reloadable(shrunk, config(61, encrypted=True))


def test_destinations_added_later_get_the_running_window() -> None:
    """A reload that cannot change the window (0 → 60) adds a destination: it runs with the
    window of the others, not the configured one."""
    destinations = running(0)
    new = config(60)
    dest = destinations.add(new.transfer_profiles[0], new)
    assert dest.settings.dvr_window == 0
    destinations.set_dvr_window(30)
    assert dest.settings.dvr_window == 30 == dest.listing.settings.dvr_window
