"""The ad breaks that outlive a restart (hlsd.media.breaks), as saved state: a live
input's breaks announced and not opened yet, and the breaks opened, the open ones among
them returning after the restart at their planned time. Pure."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from hlsd.media.breaks import Break, Cue

_BYTES = ("out", "back")  # SCTE-35 sections: hex
_DATES = ("date", "back_date", "start", "end")  # ISO 8601 with their zone
_SET = ("id", "from_seq", "start_seq", "start", "out")  # never None (Break's out included)


@dataclass
class BreakState:
    pending: list[Cue] = field(default_factory=list)
    opened: list[Break] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"pending": [_encode(c) for c in self.pending],
                "opened": [{**_encode(b), "cue": _encode(b.cue)} for b in self.opened]}

    @classmethod
    def from_json(cls, data: Any) -> BreakState:
        """Raises ValueError for anything `to_json` did not write."""
        if not isinstance(data, dict) or not isinstance(data.get("pending", []), list) \
                or not isinstance(data.get("opened", []), list):
            raise ValueError("ad breaks state is not an object with lists")
        try:
            pending = [Cue(**_decode(Cue, c)) for c in data.get("pending", [])]
            opened = []
            for b in data.get("opened", []):
                cue = Cue(**_decode(Cue, b["cue"]))
                opened.append(Break(cue=cue, **_decode(Break, b, skip="cue")))
        except (KeyError, TypeError) as exc:
            raise ValueError(f"ad breaks state malformed: {exc}") from None
        return cls(pending, opened)


def _encode(item: Cue | Break) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields(item):
        value = getattr(item, f.name)
        if f.name == "cue" or (value is None and f.default is None):  # the default: left out
            continue
        out[f.name] = (value if value is None else value.hex() if f.name in _BYTES else
                       value.isoformat() if f.name in _DATES else value)
    return out


def _decode(kind: type[Cue] | type[Break], data: Any, skip: str = "") -> dict[str, Any]:
    """The constructor's arguments, each of the type it must be (TypeError if not)."""
    if not isinstance(data, dict):
        raise TypeError("not an object")
    names = {f.name for f in fields(kind)} - {skip}
    unknown = set(data) - names - {skip}
    if unknown:
        raise TypeError(f"unknown fields {sorted(unknown)}")
    args: dict[str, Any] = {}
    for name, value in data.items():
        if name == skip:
            continue
        if value is None and name not in _SET:
            args[name] = None
        elif name in _BYTES:
            args[name] = bytes.fromhex(_typed(value, str, name))
        elif name in _DATES:
            moment = datetime.fromisoformat(_typed(value, str, name))
            if moment.tzinfo is None:
                raise TypeError(f"{name} has no time zone")
            args[name] = moment
        elif name == "id":
            args[name] = _typed(value, str, name)
        elif name in ("from_seq", "pts", "back_pts", "start_seq", "end_seq"):
            args[name] = _typed(value, int, name)
        else:  # durations and media offsets
            args[name] = float(_typed(value, int | float, name))
    return args


def _typed(value: Any, kind: Any, name: str) -> Any:
    if not isinstance(value, kind) or isinstance(value, bool):
        raise TypeError(f"{name} is {type(value).__name__}")
    return value
