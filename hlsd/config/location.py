"""input_location and backup_inputs read as what they name. A local file or device that is
not there, or that hlsd may not read, is a problem when the config is loaded: handed to a
reader, it would look like a live input that never comes and be retried for ever.

What counts as a local path is decided from the text alone (an absolute or relative path,
`~/...`, `file:...`), never by trying to open it; URLs, '-', a device spec such as `hw:0`
and a filter graph read with `-f lavfi` are left to ffmpeg.
"""

from __future__ import annotations

import os
import re
import shlex
import stat
from collections.abc import Callable, Iterable
from pathlib import Path

from hlsd.config.checker import Checker

__all__ = ["ALLOWED", "checked_input", "is_file", "local_path", "reads_local_input",
           "unusable"]

ALLOWED = "an existing file, a URL, a device or '-'"
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
EXTENSION = re.compile(r"\.[A-Za-z0-9]{1,5}$")
# Input formats whose "file name" is no path: a filter graph, a sound or screen server's.
NOT_FILES = frozenset({"lavfi", "alsa", "pulse", "jack", "openal", "sndio", "x11grab",
                       "xcbgrab", "kmsgrab", "avfoundation", "dshow", "gdigrab", "decklink"})


def is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except (OSError, ValueError):  # a name too long, a NUL byte: not a file
        return False


def local_path(location: str) -> str | None:
    """The local path `location` names (as written: maybe relative, maybe `~`), or None."""
    if location.startswith("file:"):
        rest = location[len("file:"):]
        return rest[2:] if rest.startswith("///") else rest
    if location in ("", "-") or SCHEME.match(location):
        return None
    if location.startswith(("/", "./", "../", "~")):
        return location
    # A bare word is a path only when it reads like a file name ("film.mp4",
    # "media/cam.ts"): "lavfi", "testsrc2=size=640x360" or ":0.0" are not.
    if any(c.isspace() for c in location) or "=" in location or ":" in location:
        return None
    return location if "/" in location or EXTENSION.search(location) else None


def _input_format(command: str) -> str | None:
    """The -f given to the input that `command` reads from %s ("" when none is given);
    None when no `-i` reads %s (e.g. `cat %s`)."""
    try:
        argv = shlex.split(command)
    except ValueError:
        return None
    fmt = ""
    for i, arg in enumerate(argv[:-1]):
        if arg == "-f":
            fmt = argv[i + 1]
        elif arg == "-i":
            if "%s" in argv[i + 1]:
                return fmt
            fmt = ""  # a -f applies to the next input only
    return None


def reads_local_input(source_command: str | None, commands: Iterable[str]) -> bool:
    """Is input_location opened as a file or device by a command that reads it (%s)?
    With source_command, only it reads input_location (%s in the encoders is its pipe)."""
    readers = [source_command] if source_command is not None else list(commands)
    readers = [c for c in readers if "%s" in c]
    return bool(readers) and not any(_input_format(c) in NOT_FILES for c in readers)


def unusable(path: Path) -> str | None:
    """Why hlsd cannot read `path` as an input (None: it can)."""
    try:
        mode = path.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        return f"{path} does not exist"
    except PermissionError:
        return f"{path} cannot be read: permission denied on a folder above it"
    except (OSError, ValueError) as exc:  # a name too long, a NUL byte, a loop of links
        return f"{path} cannot be used: {getattr(exc, 'strerror', None) or exc}"
    if stat.S_ISDIR(mode):
        return f"{path} is a folder, not a file"
    if not os.access(path, os.R_OK):
        return (f"{path} cannot be read by this user (uid {os.geteuid()}, mode "
                f"{stat.filemode(mode)})")
    return None


def checked_input(location: str, key: str, rel: Callable[[str | None], Path | None],
                  check: Checker) -> str:
    """`location`, a relative path made relative to the config file's folder (as every
    path in the file; a `file:` URL is left as written); a problem at `key` when it names
    a file hlsd cannot read."""
    path = local_path(location)
    if path is None:
        return location
    url = location.startswith("file:")
    full = Path(path) if url else rel(path) or Path(path)
    if (why := unusable(full)) is not None:
        check.problem(key, why, ALLOWED)
    return location if url else str(full)
