"""Locates the native segmenter shipped with the package; `hlsd-segmenter` execs it."""

import os
import shutil
import sys
from pathlib import Path

BINARY_NAME = "hlsd-segmenter"


def packaged_path() -> Path:
    return Path(__file__).parent.parent / "_bin" / BINARY_NAME


def resolve(configured: str) -> str:
    """The executable to run for `segmenter_binary`.

    The default name maps straight to the packaged binary (skipping the Python
    wrapper on PATH); anything else is looked up on PATH or taken as a path.
    """
    if configured == BINARY_NAME and packaged_path().is_file():
        return str(packaged_path())
    found = shutil.which(configured)
    return found if found else configured


def main() -> int:
    path = packaged_path()
    if not path.is_file():
        print(f"hlsd-segmenter: native binary missing at {path}; reinstall hlsd "
              "with `pip install .` (needs a C compiler)", file=sys.stderr)
        return 1
    os.execv(path, [BINARY_NAME, *sys.argv[1:]])
    return 1  # not reached
