"""Builds the native segmenter (ext/src/*.c) into hlsd/_bin/hlsd-segmenter.

The segmenter is a plain C99 executable, not a Python extension; it rides on
setuptools' build_ext so that `pip install .` and `pip install -e .` both build it.
"""

import os
import shlex
import subprocess
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).parent
SOURCES = sorted(str(p.relative_to(HERE)) for p in (HERE / "ext" / "src").glob("*.c"))


class BuildSegmenter(build_ext):
    def build_extension(self, ext: Extension) -> None:
        # get_ext_fullpath honours --inplace (editable installs) and build_lib alike.
        out_dir = Path(self.get_ext_fullpath(ext.name)).parent
        out_dir.mkdir(parents=True, exist_ok=True)
        target = out_dir / "hlsd-segmenter"
        cc = shlex.split(os.environ.get("CC", "cc"))
        cflags = shlex.split(os.environ.get("HLSD_CFLAGS", "-O2"))
        argv = [*cc, "-std=c99", "-Wall", "-Wextra", *cflags, "-o", str(target),
                *ext.sources, "-lm"]
        print(" ".join(argv))
        subprocess.check_call(argv, cwd=HERE)

    def get_outputs(self) -> list[str]:
        return [str(Path(self.get_ext_fullpath(e.name)).parent / "hlsd-segmenter")
                for e in self.extensions]


setup(
    ext_modules=[Extension("hlsd._bin.segmenter", sources=SOURCES)],
    cmdclass={"build_ext": BuildSegmenter},
)
