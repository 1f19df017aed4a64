"""#EXT-X-DATERANGE (RFC 8216bis §4.4.5.1) and the legacy cue tags some ad stitchers still
read. Pure: a model, its one-line rendering, and that line read back.

- Dates are UTC with milliseconds ("2026-12-06T10:00:21.000Z"), durations seconds with
  three decimals, SCTE-35 sections `0x` + uppercase hex; the model is held in that
  precision, so model → text → model is exact.
- Validation follows the RFC's MUSTs: ID and START-DATE present, END-DATE not before
  START-DATE (and, with DURATION too, equal to START-DATE + DURATION), no negative
  durations, END-ON-NEXT only with CLASS and without DURATION or END-DATE.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hlsd.media.playlist import PlaylistError, format_pdt, has_control

TAG = "#EXT-X-DATERANGE"
# an attribute: NAME=quoted-string | anything up to the next comma (RFC 8216 §4.2)
_ATTRIBUTE = re.compile(r'([A-Z0-9-]+)=("[^"\r\n]*"|[^",]*)(,|$)')
_HEX = re.compile(r"0[xX][0-9A-Fa-f]+")  # hexadecimal-sequence (§4.2)
_FLOAT = re.compile(r"-?[0-9]+(\.[0-9]*)?")  # (signed-)decimal-floating-point
_CLIENT = re.compile(r"X-[A-Z0-9-]+")  # client attributes (§4.4.5.1)


class DateRangeError(PlaylistError):
    """A DATERANGE that breaks RFC 8216bis §4.4.5.1, or a line that is not one."""


def _ms(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        raise DateRangeError(f"a DATERANGE date needs a time zone: {moment.isoformat()}")
    moment = moment.astimezone(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def _seconds(value: float | None, name: str) -> float | None:
    if value is None:
        return None
    if value < 0:
        raise DateRangeError(f"DATERANGE {name} must not be negative: {value}")
    return round(value, 3)


def _quoted(value: str | None, name: str) -> None:
    if value is not None and ('"' in value or has_control(value)):
        raise DateRangeError(f"DATERANGE {name} cannot hold quotes or line breaks: {value!r}")


@dataclass(frozen=True)
class DateRange:
    """One #EXT-X-DATERANGE tag. `client` holds X- attributes as name → the value's text
    as written (quoted-string with its quotes, hexadecimal-sequence, or number)."""

    id: str
    start: datetime
    cls: str | None = None  # CLASS
    end: datetime | None = None  # END-DATE
    duration: float | None = None
    planned_duration: float | None = None
    scte35_cmd: bytes | None = None
    scte35_out: bytes | None = None
    scte35_in: bytes | None = None
    end_on_next: bool = False
    client: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if not self.id:
            raise DateRangeError("a DATERANGE needs an ID")
        _quoted(self.id, "ID")
        _quoted(self.cls, "CLASS")
        # held in the precision the tag is written in (see the module's docstring)
        object.__setattr__(self, "start", _ms(self.start))
        object.__setattr__(self, "end", _ms(self.end))
        object.__setattr__(self, "duration", _seconds(self.duration, "DURATION"))
        object.__setattr__(self, "planned_duration",
                           _seconds(self.planned_duration, "PLANNED-DURATION"))
        if self.end is not None and self.end < self.start:
            raise DateRangeError(f"DATERANGE {self.id!r}: END-DATE is before START-DATE")
        if self.end is not None and self.duration is not None \
                and self.end != _ms(self.start + timedelta(seconds=self.duration)):
            raise DateRangeError(
                f"DATERANGE {self.id!r}: END-DATE is not START-DATE + DURATION")
        if self.end_on_next:
            if self.cls is None:
                raise DateRangeError(f"DATERANGE {self.id!r}: END-ON-NEXT needs a CLASS")
            if self.duration is not None or self.end is not None:
                raise DateRangeError(
                    f"DATERANGE {self.id!r}: END-ON-NEXT excludes DURATION and END-DATE")
        for name, value in self.client:
            if not _CLIENT.fullmatch(name):
                raise DateRangeError(f"DATERANGE client attribute {name!r}: not X-[A-Z0-9-]")
            if not ((value.startswith('"') and value.endswith('"') and len(value) > 1
                    and '"' not in value[1:-1] and not has_control(value))
                    or _HEX.fullmatch(value) or _FLOAT.fullmatch(value)):
                raise DateRangeError(f"DATERANGE {name}: not a string, hex or number")

    def render(self) -> str:
        attrs = [f'ID="{self.id}"']
        if self.cls is not None:
            attrs.append(f'CLASS="{self.cls}"')
        attrs.append(f'START-DATE="{format_pdt(self.start)}"')
        if self.end is not None:
            attrs.append(f'END-DATE="{format_pdt(self.end)}"')
        if self.duration is not None:
            attrs.append(f"DURATION={self.duration:.3f}")
        if self.planned_duration is not None:
            attrs.append(f"PLANNED-DURATION={self.planned_duration:.3f}")
        attrs += [f"{name}={value}" for name, value in self.client]
        for name, section in (("SCTE35-CMD", self.scte35_cmd), ("SCTE35-OUT", self.scte35_out),
                              ("SCTE35-IN", self.scte35_in)):
            if section is not None:
                attrs.append(f"{name}=0x{section.hex().upper()}")
        if self.end_on_next:
            attrs.append("END-ON-NEXT=YES")
        return f"{TAG}:{','.join(attrs)}"


def _attributes(line: str) -> dict[str, str]:
    if not line.startswith(TAG + ":"):
        raise DateRangeError(f"not an {TAG} line: {line!r}")
    text = line[len(TAG) + 1:]
    attrs: dict[str, str] = {}
    pos = 0
    while pos < len(text):
        match = _ATTRIBUTE.match(text, pos)
        if match is None or (match[3] == "," and match.end() == len(text)):
            raise DateRangeError(f"malformed attribute list at {text[pos:]!r} in {line!r}")
        if match[1] in attrs:
            raise DateRangeError(f"{match[1]} appears twice in {line!r}")
        attrs[match[1]] = match[2]
        pos = match.end()
    return attrs


def _string(attrs: dict[str, str], name: str, line: str) -> str | None:
    value = attrs.pop(name, None)
    if value is None:
        return None
    if len(value) < 2 or not (value.startswith('"') and value.endswith('"')):
        raise DateRangeError(f"{name} must be a quoted-string in {line!r}")
    return value[1:-1]


def _date(attrs: dict[str, str], name: str, line: str) -> datetime | None:
    value = _string(attrs, name, line)
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise DateRangeError(f"{name} is not an ISO 8601 date in {line!r}") from None
    if moment.tzinfo is None:
        raise DateRangeError(f"{name} has no time zone in {line!r}")
    return moment


def _number(attrs: dict[str, str], name: str, line: str) -> float | None:
    value = attrs.pop(name, None)
    if value is None:
        return None
    if not _FLOAT.fullmatch(value):
        raise DateRangeError(f"{name} is not a decimal-floating-point in {line!r}")
    return float(value)


def _hex(attrs: dict[str, str], name: str, line: str) -> bytes | None:
    value = attrs.pop(name, None)
    if value is None:
        return None
    if not _HEX.fullmatch(value) or len(value) % 2:
        raise DateRangeError(f"{name} is not a hexadecimal-sequence of bytes in {line!r}")
    return bytes.fromhex(value[2:])


def parse(line: str) -> DateRange:
    """One #EXT-X-DATERANGE line → DateRange; a DateRangeError names what is wrong."""
    line = line.strip()
    attrs = _attributes(line)
    ident = _string(attrs, "ID", line)
    start = _date(attrs, "START-DATE", line)
    if ident is None or start is None:
        raise DateRangeError(f"a DATERANGE needs ID and START-DATE: {line!r}")
    end_on_next = attrs.pop("END-ON-NEXT", None)
    if end_on_next not in (None, "YES"):
        raise DateRangeError(f"END-ON-NEXT can only be YES in {line!r}")
    cls, end = _string(attrs, "CLASS", line), _date(attrs, "END-DATE", line)
    duration = _number(attrs, "DURATION", line)
    planned = _number(attrs, "PLANNED-DURATION", line)
    cmd, out = _hex(attrs, "SCTE35-CMD", line), _hex(attrs, "SCTE35-OUT", line)
    back = _hex(attrs, "SCTE35-IN", line)
    client = tuple((name, attrs.pop(name)) for name in list(attrs) if name.startswith("X-"))
    if attrs:  # §4.4.5.1 lists every attribute; later drafts' (CUE, …) are not read yet
        raise DateRangeError(f"unsupported DATERANGE attributes {sorted(attrs)} in {line!r}")
    return DateRange(ident, start, cls, end, duration, planned, cmd, out, back,
                     end_on_next == "YES", client)


def cue_out(duration: float) -> str:
    """The legacy break start some stitchers read (no RFC; AWS Elemental's and others')."""
    if duration < 0:
        raise DateRangeError(f"a cue's duration must not be negative: {duration}")
    return f"#EXT-X-CUE-OUT:DURATION={duration:.3f}"


def cue_in() -> str:
    """The legacy break end matching `cue_out`."""
    return "#EXT-X-CUE-IN"
