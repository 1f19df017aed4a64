"""Reading a config file into a YAML document: bounded in size, UTF-8 or a clear problem,
never a traceback (deep nesting, alias bombs included); ${ENV_VAR} references expanded;
a word when a file holding secrets as written (not as ${ENV_VAR}) is readable by everyone."""

from __future__ import annotations

import os
import re
import stat
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from hlsd.config.checker import Checker
from hlsd.config.errors import ConfigError, Problem
from hlsd.config.model import Config
from hlsd.config.secret import QUERY_SECRET, RTMP_KEY, SECRET_KEYS, URL_PASSWORD

MAX_FILE_BYTES = 1 << 20  # a config is a few kilobytes
MAX_DEPTH = 32  # no valid config nests deeper than a few levels
ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# An RTMP URL hlsd listens on: its stream key is the password publishers need. (Pulling
# from a server, the stream's name is an address; hlsd's output redacts both alike.)
RTMP_LISTENER = re.compile(r"rtmps?://(?:0\.0\.0\.0|\[::\])?(?::\d+)?/", re.I)


def _text(path: Path) -> str:
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ConfigError([Problem("", f"cannot read {path}: {exc.strerror or exc}",
                                   "a readable YAML file")]) from None
    if len(data) > MAX_FILE_BYTES:
        raise ConfigError([Problem("", f"larger than {MAX_FILE_BYTES} bytes",
                                   "a config file (a few kilobytes)")])
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError([Problem("", f"not UTF-8 text: byte 0x{data[exc.start]:02x} at "
                                   f"offset {exc.start}", "a UTF-8 YAML file")]) from None


def read_document(path: Path) -> Any:
    """The YAML document in `path`; raises ConfigError for anything that is not one."""
    text = _text(path)
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError([Problem("", f"not valid YAML{where}: "
                                   f"{getattr(exc, 'problem', None) or exc}",
                                   "valid YAML")]) from None
    except RecursionError:
        raise ConfigError([Problem("", "nested too deeply",
                                   "settings and profile sections")]) from None
    return raw


def expand_env(value: Any, path: str, check: Checker, depth: int = 0,
                seen: dict[int, Any] | None = None) -> Any:
    """Replace ${VAR} in strings; an unset variable is a problem, never an empty secret.

    YAML aliases make a document a graph: each shared node is expanded once (by
    identity), so an alias bomb costs its size as text, not as a tree.
    """
    seen = {} if seen is None else seen
    if written_secret(path, value):
        check.written_secrets.append(path)
    if isinstance(value, str):
        def sub(m: re.Match[str]) -> str:
            name = m.group(1)
            if name not in os.environ:
                check.problem(path, f"environment variable {name} is not set",
                              "set it, or write the value in the file")
                return ""
            return os.environ[name]
        return ENV_REF.sub(sub, value)
    if not isinstance(value, dict | list):
        return value
    if id(value) in seen:
        return seen[id(value)]
    if depth > MAX_DEPTH:
        check.problem(path, f"nested more than {MAX_DEPTH} levels deep",
                      "settings and profile sections (a few levels at most)")
        seen[id(value)] = None
        return None
    if isinstance(value, dict):
        out: Any = {k: expand_env(v, f"{path}.{k}" if path else str(k), check, depth + 1, seen)
                    for k, v in value.items()}
    else:
        out = [expand_env(v, f"{path}[{i}]", check, depth + 1, seen)
               for i, v in enumerate(value)]
    seen[id(value)] = out
    return out


def written_secret(path: str, value: Any) -> bool:
    """Does the file itself hold a secret at `path`: a password (or key) written out rather
    than as ${VAR}, or a URL's password, secret query parameter or RTMP stream key?"""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        return False
    if path.rsplit(".", 1)[-1] in SECRET_KEYS:
        return ENV_REF.sub("", value).strip() != ""
    masked = ENV_REF.sub("***", value)  # what a reference stands for is no concern here
    redacted = QUERY_SECRET.sub(r"\g<name>***", URL_PASSWORD.sub(r"\g<scheme>:***@", masked))
    if RTMP_LISTENER.match(masked):
        redacted = RTMP_KEY.sub(r"\g<app>***", redacted)
    return redacted != masked


def warn_if_readable(config: Config, path: Path) -> Config:
    """Secrets in a file anyone on the machine may read deserve a word (secrets taken from
    the environment do not: the file holds only their names)."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return config
    secrets = config.written_secrets
    if secrets and mode & stat.S_IROTH:
        shown = ", ".join(secrets[:4]) + (", ..." if len(secrets) > 4 else "")
        warning = (f"(file): holds secrets ({shown}) but is readable by every user (mode "
                   f"{stat.filemode(mode)}); chmod o-r {path}, or write them as ${{VAR}} "
                   "and set VAR in the environment")
        return replace(config, warnings=(*config.warnings, warning))
    return config
