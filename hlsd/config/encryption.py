"""The `encryption:` section: AES-128 settings and the destinations that get the keys."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from hlsd.config.checker import Checker, show
from hlsd.config.model import EncryptionSettings, TransferProfile, yaml_keys
from hlsd.config.secret import Secret
from hlsd.config.sections import names, profiles, rebase
from hlsd.config.transfer import access_warnings, parse_transfer, present

ENCRYPTION_KEYS = yaml_keys(EncryptionSettings)
SEED_CHARACTERS = 16  # 16 random characters or more: guessing the seed is guessing a key
SEED_ALLOWED = (f"a secret of at least {SEED_CHARACTERS} characters, the same on every "
                "redundant host, best as ${HLSD_KEY_SEED} (e.g. from `openssl rand -hex 32`)")


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
        method=method, key_rotation=rotation, key_url_prefix=prefix,
        key_seed=_key_seed(section, check)))


def _key_seed(section: Mapping[str, Any], check: Checker) -> Secret | None:
    """The shared secret keys are derived from; its value is never quoted in a message."""
    path, value = "encryption.key_seed", section.get("key_seed")
    if isinstance(value, bool) or not isinstance(value, str | int | None):
        check.problem(path, f"found a {type(value).__name__}", SEED_ALLOWED)
        return None
    seed = check.secret(section, "key_seed", "encryption")
    # An unset ${VAR} is a problem said already: one message per mistake.
    if seed is None or any(p.path == path for p in check.problems):
        return None
    text = seed.reveal()
    if not text.strip():
        check.problem(path, "is empty", SEED_ALLOWED)
    elif len(text) < SEED_CHARACTERS:
        check.problem(path, f"has only {len(text)} characters", SEED_ALLOWED)
    else:
        return seed
    return None
