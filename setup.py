"""Builds the native segmenter (ext/src/*.c) into hlsd/_bin/hlsd-segmenter.

The segmenter is a plain C99 executable, not a Python extension; it rides on
setuptools' build_ext so that `pip install .` and `pip install -e .` both build it.
"""

import os
import shlex
import shutil
import subprocess
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).parent
IN_SOURCE = HERE / "hlsd" / "_bin" / "hlsd-segmenter"
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
        # An editable install imports hlsd from the source tree, so that is where the
        # binary must be (setuptools would otherwise leave it in a temporary build dir).
        if (getattr(self, "editable_mode", False) or self.inplace) and \
                target.resolve() != IN_SOURCE.resolve():
            shutil.copy2(target, IN_SOURCE)

    def _binary(self, ext: Extension) -> Path:
        return Path(self.get_ext_fullpath(ext.name)).parent / "hlsd-segmenter"

    def get_outputs(self) -> list[str]:
        return [str(self._binary(e)) for e in self.extensions]

    # Editable installs build into a temporary tree, then copy "the extension" back into
    # the source tree; ours is an executable, not the .so setuptools would look for.
    def copy_extensions_to_source(self) -> None:
        for ext in self.extensions:
            built = self._binary(ext)
            if built.resolve() != IN_SOURCE.resolve():
                shutil.copy2(built, IN_SOURCE)

    def get_output_mapping(self) -> dict[str, str]:
        return {str(self._binary(e)): str(IN_SOURCE) for e in self.extensions}


setup(
    ext_modules=[Extension("hlsd._bin.segmenter", sources=SOURCES)],
    cmdclass={"build_ext": BuildSegmenter},
)
