"""Typed reads of raw YAML values that collect problems instead of stopping at the first."""

from __future__ import annotations

import difflib
import math
import reprlib
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from typing import Any

from hlsd.config.errors import ConfigError, Problem
from hlsd.config.secret import Secret

# Values are quoted in messages through this: bounded, whatever the document holds
# (a YAML alias bomb is small as text and astronomically large as a tree).
_SHOW = reprlib.Repr()
_SHOW.maxlevel, _SHOW.maxlist, _SHOW.maxdict, _SHOW.maxstring = 2, 4, 4, 80


def show(value: Any) -> str:
    """A short, bounded repr of a raw YAML value for a problem message."""
    return _SHOW.repr(value)


def _join(section: str, key: str) -> str:
    return f"{section}.{key}" if section else key


class Checker:
    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.warnings: list[str] = []
        # Key paths of secrets written in the file itself, not as ${VAR} references.
        self.written_secrets: list[str] = []

    def problem(self, path: str, what: str, allowed: str,
                choices: Iterable[str] | None = None, near: str | None = None) -> None:
        if choices is not None:
            word = near if near is not None else path.rsplit(".", 1)[-1]
            close = difflib.get_close_matches(word, list(choices), n=1)
            if close:
                what += f" (did you mean {close[0]!r}?)"
        self.problems.append(Problem(path, what, allowed))

    def warn(self, path: str, what: str) -> None:
        warning = f"{path}: {what}"
        if warning not in self.warnings:  # a profile used twice (segments and keys)
            self.warnings.append(warning)

    def raise_if_any(self) -> None:
        if self.problems:
            raise ConfigError(self.problems)

    def section(self, value: Any, key: str, allowed: AbstractSet[str],
                shorthand: bool = True) -> dict[str, Any] | None:
        """An optional section's mapping: absent or false: None; `true` (where `shorthand`
        allows it): {} (its defaults); a mapping: itself, unknown keys reported; anything
        else: a problem, None."""
        if value is None or value is False:
            return None
        if value is True and shorthand:
            return {}
        if not isinstance(value, dict):
            self.problem(key, f"found {show(value)}", ("true, or a section with "
                         if shorthand else "a section with ") + ", ".join(sorted(allowed)))
            return None
        self.unknown(value, allowed, key)
        return value

    def unknown(self, raw: Mapping[Any, Any], allowed: AbstractSet[str], section: str) -> None:
        for key in raw:
            if key in allowed:
                continue
            close = difflib.get_close_matches(str(key), sorted(allowed), n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            self.problems.append(Problem(_join(section, show(key) if not isinstance(key, str)
                                               else key), f"unknown key{hint}",
                                         ", ".join(sorted(allowed))))

    def _get(self, raw: Mapping[str, Any], key: str, section: str, required: bool,
             expected: str) -> Any:
        value = raw.get(key)
        if value is None and required:
            self.problem(_join(section, key), "is missing", expected)
        return value

    def string(self, raw: Mapping[str, Any], key: str, section: str,
               required: bool = False) -> str | None:
        value = self._get(raw, key, section, required, "a string")
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.problem(_join(section, key), f"found {type(value).__name__} {show(value)}",
                         "a string")
            return None
        if isinstance(value, str) and not value.strip() and required:
            self.problem(_join(section, key), "is empty", "a non-empty string")
            return None
        if isinstance(value, str) and "\0" in value:
            self.problem(_join(section, key), "holds a NUL character", "text without NUL")
            return None
        return str(value)

    def secret(self, raw: Mapping[str, Any], key: str, section: str,
               required: bool = False) -> Secret | None:

        value = self._get(raw, key, section, required, "a string (may be ${ENV_VAR})")
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, str | int):
            # Never echo the value: it is a secret.
            self.problem(_join(section, key), f"found a {type(value).__name__}",
                         "a string (may be ${ENV_VAR})")
            return None
        return Secret(str(value))

    def number(self, raw: Mapping[str, Any], key: str, section: str,
               minimum: float | None = None, maximum: float | None = None) -> float | None:
        value = raw.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or (
                isinstance(value, float) and not math.isfinite(value)):
            self.problem(_join(section, key), f"found {show(value)}", "a finite number")
            return None
        checked = self._range(value, key, section, minimum, maximum)
        return None if checked is None else float(checked)

    def integer(self, raw: Mapping[str, Any], key: str, section: str,
                minimum: int | None = None, maximum: int | None = None) -> int | None:
        value = raw.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(_join(section, key), f"found {show(value)}", "a whole number")
            return None
        checked = self._range(value, key, section, minimum, maximum)
        return None if checked is None else int(checked)

    def _range(self, value: float | int, key: str, section: str, minimum: float | None,
               maximum: float | None) -> float | None:
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            lo = "" if minimum is None else f"from {minimum:g}"
            hi = "" if maximum is None else f" to {maximum:g}"
            self.problem(_join(section, key), f"found {show(value)}",
                         f"a number {lo}{hi}".strip())
            return None
        return value

    def boolean(self, raw: Mapping[str, Any], key: str, section: str) -> bool | None:
        value = raw.get(key)
        if value is None:
            return None
        if not isinstance(value, bool):
            self.problem(_join(section, key), f"found {show(value)}", "true or false")
            return None
        return value

    def choice(self, raw: Mapping[str, Any], key: str, section: str, options: Sequence[str],
               upper: bool = False) -> str | None:
        value = raw.get(key)
        if value is None:
            return None
        text = (str(value).upper() if upper else str(value)) if isinstance(value, str) else ""
        if text == "WARNING" and "WARN" in options:
            text = "WARN"
        if text not in options:
            self.problem(_join(section, key), f"found {show(value)}", " | ".join(options))
            return None
        return text
