"""What a config mistake is: a Problem (key path, what is wrong, what is allowed), and the
ConfigError that carries every Problem of one file at once. Imports nothing from hlsd."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["ConfigError", "Problem"]


@dataclass(frozen=True)
class Problem:
    path: str  # key path, e.g. "ep_720p.ffmpeg_command"; "" for the whole file
    what: str
    allowed: str

    def __str__(self) -> str:
        where = self.path or "(file)"
        return f"{where}: {self.what}; allowed: {self.allowed}"


class ConfigError(Exception):
    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))
