"""Keys from `encryption.key_seed`: derived alike on every host (HKDF-SHA256), apart per key
number, seed, rung and segment; and a key ring that numbers its keys by key period, so two
hosts, or one host after a restart, name and write the same key files."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from hlsd.config import CopyProfile, EncryptionSettings, Secret
from hlsd.publish.keys import KeyRing, KeyState
from hlsd.publish.keyseed import KeySeed

SEED = "correct horse battery staple"


def test_derivation_is_pinned() -> None:
    """Hosts running different hlsd versions must still agree: these values never change.
    (Checked against `openssl kdf -keylen 16 -kdfopt digest:SHA256 -kdfopt key:SEED -kdfopt
    'salt:hlsd encryption.key_seed' -kdfopt hexinfo:<'hlsd key' + number, 8 bytes> HKDF`.)"""
    seed = KeySeed(Secret(SEED))
    assert seed.key(0).hex() == "ebf29ad34cdc8c9708b907e2cb45aebc"
    assert seed.key(7).hex() == "76d0844e618e3f7ac22e02afda7ce849"
    assert seed.iv(7, "ep_720p", 70).hex() == "13fc9e51184b03fac4ea22947aa153b3"
    assert seed.name_tag(7) == "5cbe5648"


def test_keys_are_deterministic_and_apart_per_number_and_seed() -> None:
    a, b, other = KeySeed(Secret(SEED)), KeySeed(Secret(SEED)), KeySeed(Secret(SEED + "!"))
    keys = [a.key(n) for n in range(100)]
    assert keys == [b.key(n) for n in range(100)]
    assert all(len(k) == 16 for k in keys) and len(set(keys)) == 100
    assert not set(keys) & {other.key(n) for n in range(100)}
    assert a.name_tag(3) == b.name_tag(3) != other.name_tag(3)
    assert len({a.name_tag(n) for n in range(100)}) == 100
    assert all(len(a.name_tag(n)) == 8 and int(a.name_tag(n), 16) >= 0 for n in range(3))
    assert a.name_tag(3) not in a.key(3).hex()  # the name says nothing of the key


def test_ivs_are_apart_per_rung_and_segment() -> None:
    """One key serves every rung: a (key, IV) pair never repeats."""
    seed = KeySeed(Secret(SEED))
    ivs = {seed.iv(n // 10, rung, n) for n in range(100) for rung in ("a", "b", "ab")}
    assert len(ivs) == 300 and all(len(iv) == 16 for iv in ivs)
    assert seed.iv(1, "a", 10) == KeySeed(Secret(SEED)).iv(1, "a", 10)
    assert seed.iv(1, "a", 10) != KeySeed(Secret(SEED + "x")).iv(1, "a", 10)


def test_the_seed_never_prints() -> None:
    seed = KeySeed(Secret(SEED))
    assert SEED not in repr(seed) and "horse" not in str(seed)
    with pytest.raises(AttributeError):
        seed.__dict__  # noqa: B018  (slots only: no vars() dump of the seed either)


def ring(tmp_path: Path, host: str, rotation: int, next_index: int = 0,
         seed: str | None = SEED) -> KeyRing:
    settings = EncryptionSettings(
        key_transfer_profiles=(CopyProfile("keys", tmp_path / host / "k"),),
        key_rotation=rotation, key_url_prefix="https://k/",
        key_seed=Secret(seed) if seed is not None else None)
    return KeyRing(settings, tmp_path / host / "work" / "keys", "live",
                   KeyState(next_index=next_index), horizon=4, grace=10.0)


@pytest.mark.parametrize("rotation", [0, 1, 3])
def test_two_hosts_make_the_same_keys_whatever_their_state(tmp_path: Path,
                                                           rotation: int) -> None:
    """1. host a starts with a fresh state, host b with a state from a long past
    2. for every segment both encrypt: the same key number (= key period), file name, URI,
       bytes and IV; the state's next number stays past every number used"""
    a, b = ring(tmp_path, "a", rotation), ring(tmp_path, "b", rotation, next_index=1234)
    for seq in range(20, 30):
        ka, kb = a.key_for(seq), b.key_for(seq)
        assert ka.index == kb.index == (seq // rotation if rotation else 0)
        assert (ka.name, ka.uri, ka.material()) == (kb.name, kb.uri, kb.material())
        assert ka.path.read_bytes() == kb.path.read_bytes() == ka.material()
        assert stat.S_IMODE(ka.path.stat().st_mode) == 0o600
        assert a.iv_for(ka, "ep", seq) == b.iv_for(kb, "ep", seq) != a.iv_for(ka, "ep2", seq)
    assert ka.name == f"live-{ka.index:05d}-{KeySeed(Secret(SEED)).name_tag(ka.index)}.key"
    assert a.state().next_index == ka.index + 1 and b.state().next_index == 1234


def test_a_restart_derives_the_same_key_over_its_own_file(tmp_path: Path) -> None:
    """The key file of the period in progress is there already after a restart: written
    again (same bytes), never a failure."""
    first = ring(tmp_path, "a", rotation=10).key_for(42)
    again = ring(tmp_path, "a", rotation=10, next_index=5).key_for(45)
    assert (again.name, again.material()) == (first.name, first.material())
    assert again.path.read_bytes() == again.material()


def test_another_seed_or_no_seed_names_its_keys_otherwise(tmp_path: Path) -> None:
    seeded = ring(tmp_path, "a", rotation=2).key_for(4)
    other = ring(tmp_path, "b", rotation=2, seed=SEED + "?").key_for(4)
    random = ring(tmp_path, "c", rotation=2).key_for(4)
    assert other.name != seeded.name and other.material() != seeded.material()
    unseeded = ring(tmp_path, "d", rotation=2, next_index=2, seed=None)
    key = unseeded.key_for(4)
    assert key.index == 2 and key.name != seeded.name  # numbered by its state, as ever
    assert unseeded.iv_for(key, "ep", 4) != unseeded.iv_for(key, "ep", 4)  # random
    assert random.name == seeded.name  # the same seed in another folder


@pytest.mark.parametrize("seed", [SEED, None])
def test_a_late_rung_gets_its_own_periods_key(tmp_path: Path, seed: str | None) -> None:
    """Rungs report independently: after one rung's first segment of period 1, another
    rung's last segment of period 0 still gets period 0's key, not a new one."""
    keys = ring(tmp_path, "a", rotation=3, seed=seed)
    k0, k1 = keys.key_for(2), keys.key_for(3)
    assert keys.key_for(2) is k0 and keys.key_for(4) is k1 and k0 is not k1
    assert keys.state().next_index == 2 and len(list(k0.path.parent.glob("*.key"))) == 2
