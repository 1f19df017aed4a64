"""The `encryption:` section: AES-128 settings and the destinations that get the keys."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from hlsd.config.checker import Checker, show
from hlsd.config.model import EncryptionSettings, TransferProfile, yaml_keys
from hlsd.config.sections import names, profiles, rebase
from hlsd.config.transfer import access_warnings, parse_transfer, present

ENCRYPTION_KEYS = yaml_keys(EncryptionSettings)


def parse_encryption(raw: Mapping[str, Any], sections: set[str],
                     segment_destinations: list[str], rel: Callable[[str | None], Path | None],
                     check: Checker) -> EncryptionSettings | None:
    """`raw` is the whole document; problems and warnings go to `check`."""
    section = check.section(raw.get("encryption"), "encryption", ENCRYPTION_KEYS,
                            shorthand=False)
    if section is None:
        return None
    method = check.choice(section, "method", "encryption", ("AES-128",), upper=True)
    rotation = check.integer(section, "key_rotation", "encryption", minimum=0,
                             maximum=1_000_000)
    prefix = check.string(section, "key_url_prefix", "encryption")
    if prefix is not None and any(c in prefix for c in '"\r\n'):
        check.problem("encryption.key_url_prefix", f"found {show(prefix)}",
                      "a URL prefix without quotes or line breaks")
    key = "encryption.key_transfer_profile"
    wanted = names(section.get("key_transfer_profile"), key, "transfer_type", raw, check)
    found: list[TransferProfile] = profiles(raw, sections, wanted, key, "transfer_type",
                                            parse_transfer, check)
    keys = [rebase(t, rel) for t in found]
    access_warnings(keys, check)
    shared = [n for n in wanted if n in segment_destinations]
    if shared:
        check.warn(key, f"{', '.join(shared)} also receive(s) the segments: anyone who can "
                   "fetch the segments there can fetch their keys too")
    if not prefix and len(shared) < len(wanted):
        check.warn("encryption.key_url_prefix", "is empty, so key URIs are relative to each "
                   "playlist, but keys go to other destinations than the playlists; set it "
                   "to where the keys are served (e.g. https://keys.example.com/live/)")
    return EncryptionSettings(key_transfer_profiles=tuple(keys), **present(
        method=method, key_rotation=rotation, key_url_prefix=prefix))
