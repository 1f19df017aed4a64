"""scripts/install-service as an operator runs it (root), its system paths in a scratch root.

The virtualenv is real: pip installs hlsd from this tree into `<scratch>/opt` (wheels
from pip's cache once the test environment is installed), so the units' ExecStart names
a program that exists and runs, and `systemd-analyze verify` checks the units as
installed. `--root` keeps the machine's own /etc, users and systemd untouched: no hlsd
user is created there, so `hlsd check` runs as hlsd only where that user exists.
"""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(os.geteuid() != 0, reason="installs as root (CI runs as root)"),
]

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "install-service"


@dataclass
class Install:
    scratch: Path
    prefix: Path
    root: Path
    seconds: float  # how long the first install took
    tree_before: dict[str, int | None]  # build_artifacts() before it

    @property
    def units(self) -> Path:
        return self.root / "etc" / "systemd" / "system"

    @property
    def conf(self) -> Path:
        return self.root / "etc" / "hlsd"

    @property
    def state(self) -> Path:
        return self.root / "var" / "lib" / "hlsd"

    @property
    def logrotate(self) -> Path:
        return self.root / "etc" / "logrotate.d" / "hlsd"

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run_script("--root", str(self.root), *args)


def run_script(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, timeout=300,
                          check=False, stdin=subprocess.DEVNULL)


def has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def build_artifacts() -> dict[str, int | None]:
    """What a build in the source tree would touch (pip builds in the tree it is given)."""
    out: dict[str, int | None] = {}
    for name in ("build", "hlsd.egg-info", "hlsd/_bin/hlsd-segmenter"):
        path = ROOT / name
        out[name] = path.stat().st_mtime_ns if path.exists() else None
    return out


def new_install() -> Iterator[Install]:
    before = build_artifacts()
    # Not pytest's tmp_path (0700 under /tmp/pytest-of-root): the hlsd user, or nobody,
    # must reach the virtualenv, as it reaches /opt/hlsd.
    scratch = Path(tempfile.mkdtemp(prefix="hlsd-install-"))
    scratch.chmod(0o755)
    try:
        prefix, root = scratch / "opt", scratch / "root"
        started = time.monotonic()
        done = run_script("--prefix", str(prefix), "--root", str(root))
        assert done.returncode == 0, done.stdout + done.stderr
        yield Install(scratch, prefix, root, time.monotonic() - started, before)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


@pytest.fixture(scope="module")
def installed() -> Iterator[Install]:
    """One install shared by the tests that only look at it (and the upgrade, which must
    leave it as it was)."""
    yield from new_install()


@pytest.fixture
def own_install() -> Iterator[Install]:
    yield from new_install()


def test_install_lays_out_files_with_safe_modes(installed: Install) -> None:
    """1. units 0644 root-owned, ExecStart into the virtualenv, 2. /etc/hlsd root:hlsd
    2750 with the sample 0640 (not world-readable), 3. /var/lib/hlsd 0750, 4. logrotate
    0644, 5. a virtualenv with hlsd and the segmenter whose python is not under /root or
    /home (hidden by ProtectHome), usable by an unprivileged user, 6. nothing built in
    the source tree."""
    print(f"first install: {installed.seconds:.1f} s")
    assert build_artifacts() == installed.tree_before, "the install wrote into the tree"
    group = "hlsd" if has_user("hlsd") else "root"
    for unit, config in (("hlsd.service", "/etc/hlsd/hlsd.yaml"),
                         ("hlsd@.service", "/etc/hlsd/%i.yaml")):
        path = installed.units / unit
        assert mode(path) == 0o644 and path.stat().st_uid == 0, unit
        text = path.read_text()
        assert f"\nExecStart={installed.prefix}/bin/hlsd run {config}\n" in text
        assert "\nExecStart=/opt/hlsd/" not in text
        assert text.startswith("# Installed by hlsd's scripts/install-service")
        shipped = (ROOT / "systemd" / unit).read_text()
        assert text.count("\n") == shipped.count("\n") + 1  # the mark, nothing else added

    assert mode(installed.conf) == 0o2750 and installed.conf.stat().st_uid == 0
    assert installed.conf.group() == group
    sample = installed.conf / "example.yaml.sample"
    assert mode(sample) == 0o640 and sample.group() == group
    assert sample.read_text() == (ROOT / "etc" / "service.yaml").read_text()
    assert mode(installed.state) == 0o750
    assert mode(installed.logrotate) == 0o644
    assert installed.logrotate.read_text() == (ROOT / "etc" / "logrotate.d" / "hlsd").read_text()

    for program in ("hlsd", "hlsd-segmenter", "python"):
        assert os.access(installed.prefix / "bin" / program, os.X_OK), program
    assert (installed.prefix / ".hlsd-install-service").is_file()
    home = next(line.split("=", 1)[1].strip()
                for line in (installed.prefix / "pyvenv.cfg").read_text().splitlines()
                if line.startswith("home"))
    assert not home.startswith(("/root", "/home")), home
    user = "hlsd" if has_user("hlsd") else "nobody"
    if has_user(user) and shutil.which("runuser"):
        done = subprocess.run(["runuser", "-u", user, "--", str(installed.prefix / "bin" / "hlsd"),
                               "--version"], capture_output=True, text=True, timeout=60,
                              check=False)
        assert done.returncode == 0 and done.stdout.startswith("hlsd "), done.stderr


@pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                    reason="systemd-analyze is not installed (apt-get install systemd)")
@pytest.mark.parametrize("unit", ["hlsd.service", "hlsd@cam1.service"])
def test_installed_units_verify(installed: Install, unit: str) -> None:
    """The units as installed, ExecStart as written (the virtualenv exists: nothing
    replaced), verify without a complaint; the template as the instance cam1."""
    done = subprocess.run(["systemd-analyze", "verify", str(installed.units / unit)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert (done.stdout + done.stderr).strip() == ""


def test_installed_hlsd_checks_the_sample(installed: Install) -> None:
    """`PREFIX/bin/hlsd check` on the installed sample, as the hlsd user where it exists
    (the scratch root creates none), else as root: valid, with the service's paths, and
    no warning that its secret is world-readable."""
    argv = [str(installed.prefix / "bin" / "hlsd"), "check",
            str(installed.conf / "example.yaml.sample")]
    if has_user("hlsd") and shutil.which("runuser"):
        argv = ["runuser", "-u", "hlsd", "--", *argv]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "temp_dir: /var/lib/hlsd/cam1" in done.stdout
    assert "directory: /srv/www/cam1" in done.stdout
    assert "passphrase=***" in done.stdout
    # The sample holds a passphrase: installed 0640, it draws no world-readable warning.
    assert "readable by every user" not in done.stderr


def test_second_run_upgrades_and_keeps_configs(installed: Install) -> None:
    """1. an operator's config (0600) and channel data, 2. an installed hlsd file made
    stale, 3. a second run exits 0, 4. reinstalls hlsd (the stale file is replaced) in
    the same virtualenv, 5. leaves the config and the data as they were."""
    config = installed.conf / "cam1.yaml"
    config.write_text("# the operator's own\n")
    config.chmod(0o600)
    data = installed.state / "cam1" / "hlsd-state.json"
    data.parent.mkdir(exist_ok=True)
    data.write_text("{}")
    installed_init = next(installed.prefix.glob("lib/python3*/site-packages/hlsd/__init__.py"))
    installed_init.write_text(installed_init.read_text() + "\n# stale\n")
    python = (installed.prefix / "bin" / "python").lstat().st_ino

    started = time.monotonic()
    done = installed.run("--prefix", str(installed.prefix))
    print(f"second run (upgrade): {time.monotonic() - started:.1f} s")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "creating a virtualenv" not in done.stdout
    assert "# stale" not in installed_init.read_text()
    assert (installed.prefix / "bin" / "python").lstat().st_ino == python
    assert config.read_text() == "# the operator's own\n" and mode(config) == 0o600
    assert data.read_text() == "{}"
    assert subprocess.run([str(installed.prefix / "bin" / "hlsd"), "--version"],
                          capture_output=True, timeout=60, check=False).returncode == 0


def test_refuses_a_prefix_it_did_not_make(tmp_path: Path) -> None:
    """A non-empty --prefix without the script's mark (/usr, say) is neither installed
    into nor, on --uninstall, removed."""
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "keep").write_text("x")
    done = run_script("--prefix", str(foreign), "--root", str(tmp_path / "root"))
    assert done.returncode == 1 and "not made by this script" in done.stderr
    done = run_script("--uninstall", "--prefix", str(foreign), "--root", str(tmp_path / "root"))
    assert done.returncode == 0, done.stderr
    assert (foreign / "keep").read_text() == "x"
    spaced = run_script("--prefix", "/opt/a b", "--root", str(tmp_path / "root"))
    assert spaced.returncode == 1 and "--prefix must be" in spaced.stderr  # ExecStart


def test_uninstall_removes_what_it_added_and_keeps_configs_and_data(
        own_install: Install) -> None:
    """1. a channel enabled (its WantedBy link), its config, data and a drop-in,
    2. --uninstall (no --prefix: the one the units name) exits 0, 3. the virtualenv,
    units, logrotate file, sample and the enable link are gone, 4. the config, data and
    drop-in are still there, 5. a second --uninstall has nothing to do and exits 0."""
    inst = own_install
    (inst.conf / "cam1.yaml").write_text("# the operator's own\n")
    (inst.state / "cam1").mkdir()
    (inst.state / "cam1" / "hlsd-state.json").write_text("{}")
    wants = inst.units / "multi-user.target.wants"
    wants.mkdir()
    (wants / "hlsd@cam1.service").symlink_to("/etc/systemd/system/hlsd@.service")
    drop_in = inst.units / "hlsd@cam1.service.d" / "override.conf"
    drop_in.parent.mkdir()
    drop_in.write_text("[Service]\nReadWritePaths=/srv/other\n")

    done = inst.run("--uninstall")
    assert done.returncode == 0, done.stdout + done.stderr
    assert not inst.prefix.exists()
    for gone in (inst.units / "hlsd.service", inst.units / "hlsd@.service", inst.logrotate,
                 inst.conf / "example.yaml.sample"):
        assert not gone.exists(), gone
    assert not (wants / "hlsd@cam1.service").is_symlink()
    assert (inst.conf / "cam1.yaml").read_text() == "# the operator's own\n"
    assert (inst.state / "cam1" / "hlsd-state.json").read_text() == "{}"
    assert drop_in.is_file()

    again = inst.run("--uninstall")
    assert again.returncode == 0, again.stdout + again.stderr
