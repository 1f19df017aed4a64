"""A small ISO BMFF (ISO/IEC 14496-12) reader for checking fMP4 output in tests.

Written from the box definitions in the standard, independently of the C writer:
`parse` splits bytes into a tree of boxes (sizes checked, nothing may overhang its
parent), `tracks` reads what an init segment declares, `fragments` reads the
moof/traf/trun/tfdt of a media segment with every sample's size, duration, flags and
composition offset.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

# Boxes that contain only other boxes (plus, for the full boxes listed in FULL, a
# 4-byte version/flags header before them).
CONTAINERS = {"moov", "trak", "mdia", "minf", "dinf", "stbl", "mvex", "moof", "traf", "edts",
              "stsd", "dref"}
FULL = {"stsd": 8, "dref": 8}  # version/flags + entry_count before the children

SAMPLE_IS_NON_SYNC = 0x00010000


class BoxError(ValueError):
    """Bytes that are not a well-formed box sequence."""


@dataclass
class Box:
    type: str
    offset: int             # of the box header within the parsed bytes
    size: int
    body: bytes             # everything after the 8-byte header
    children: list[Box] = field(default_factory=list)

    def find(self, path: str) -> list[Box]:
        """Descendants along a slash-separated path of types, e.g. "trak/mdia/mdhd"."""
        return find(self.children, path)

    def full(self) -> tuple[int, int, bytes]:
        """(version, flags, rest) of a full box."""
        return self.body[0], int.from_bytes(self.body[1:4], "big"), self.body[4:]


def parse(data: bytes, base: int = 0) -> list[Box]:
    boxes, pos = [], 0
    while pos < len(data):
        if len(data) - pos < 8:
            raise BoxError(f"{len(data) - pos} stray bytes at {base + pos}")
        size, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if size < 8 or pos + size > len(data):
            raise BoxError(f"box {kind!r} at {base + pos}: size {size} overhangs {len(data)}")
        box = Box(kind.decode("latin-1"), base + pos, size, data[pos + 8:pos + size])
        if box.type in CONTAINERS:
            skip = FULL.get(box.type, 0)
            box.children = parse(box.body[skip:], base + pos + 8 + skip)
        elif box.type in ("avc1", "hvc1", "mp4a"):
            skip = 78 if box.type != "mp4a" else 28  # the sample entry's fixed fields
            box.children = parse(box.body[skip:], base + pos + 8 + skip)
        boxes.append(box)
        pos += size
    return boxes


def find(boxes: list[Box], path: str) -> list[Box]:
    head, _, rest = path.partition("/")
    found = [b for b in boxes if b.type == head]
    return found if not rest else [d for b in found for d in b.find(rest)]


@dataclass
class Track:
    id: int
    handler: str            # "vide" / "soun"
    timescale: int
    entry: str              # sample entry type: avc1, hvc1, mp4a
    config: str             # its configuration box: avcC, hvcC, esds
    config_body: bytes
    width: float            # tkhd, 16.16
    height: float


def tracks(init: bytes) -> list[Track]:
    (moov,) = find(parse(init), "moov")
    out = []
    for trak in moov.find("trak"):
        version, _, tkhd = trak.find("tkhd")[0].full()
        track_id = struct.unpack(">I", tkhd[8:12] if version == 0 else tkhd[16:20])[0]
        width, height = struct.unpack(">II", tkhd[-8:])
        md_version, _, mdhd = trak.find("mdia/mdhd")[0].full()
        timescale = struct.unpack(">I", mdhd[8:12] if md_version == 0 else mdhd[16:20])[0]
        handler = trak.find("mdia/hdlr")[0].body[8:12].decode()
        (stsd,) = trak.find("mdia/minf/stbl/stsd")
        entry = stsd.children[0]
        config = entry.children[0]
        out.append(Track(track_id, handler, timescale, entry.type, config.type, config.body,
                         width / 65536, height / 65536))
    return out


@dataclass
class Fragment:
    sequence: int           # mfhd
    track: int
    decode_time: int        # tfdt baseMediaDecodeTime
    moof_offset: int
    data_offset: int        # absolute offset of the first sample's data
    sizes: list[int]
    durations: list[int]
    flags: list[int]        # per sample (the tfhd/trex default when trun has none)
    cto: list[int]          # composition offsets (signed with trun version 1)

    def sync(self, i: int) -> bool:
        return not self.flags[i] & SAMPLE_IS_NON_SYNC


def fragments(segment: bytes) -> list[Fragment]:
    out = []
    for moof in find(parse(segment), "moof"):
        sequence = struct.unpack(">I", moof.find("mfhd")[0].body[4:8])[0]
        for traf in moof.find("traf"):
            _, tf_flags, tfhd = traf.find("tfhd")[0].full()
            track = struct.unpack(">I", tfhd[:4])[0]
            pos, default_flags = 4, 0
            for bit, width in ((0x1, 8), (0x2, 4), (0x8, 4), (0x10, 4)):
                pos += width if tf_flags & bit else 0
            if tf_flags & 0x20:
                default_flags = struct.unpack(">I", tfhd[pos:pos + 4])[0]
            if not tf_flags & 0x020000:
                raise BoxError("tfhd without default-base-is-moof")
            version, _, tfdt = traf.find("tfdt")[0].full()
            decode = struct.unpack(">Q" if version == 1 else ">I", tfdt[:8 if version else 4])[0]
            tr_version, tr_flags, trun = traf.find("trun")[0].full()
            count = struct.unpack(">I", trun[:4])[0]
            pos, data_offset = 4, 0
            if tr_flags & 0x1:
                data_offset = struct.unpack(">i", trun[pos:pos + 4])[0]
                pos += 4
            first_flags = None
            if tr_flags & 0x4:
                first_flags = struct.unpack(">I", trun[pos:pos + 4])[0]
                pos += 4
            frag = Fragment(sequence, track, decode, moof.offset, moof.offset + data_offset,
                            [], [], [], [])
            for i in range(count):
                values = {}
                for bit, name in ((0x100, "dur"), (0x200, "size"), (0x400, "flags"),
                                  (0x800, "cto")):
                    if tr_flags & bit:
                        fmt = ">i" if name == "cto" and tr_version == 1 else ">I"
                        values[name] = struct.unpack(fmt, trun[pos:pos + 4])[0]
                        pos += 4
                frag.durations.append(values.get("dur", 0))
                frag.sizes.append(values.get("size", 0))
                flags = values.get("flags", default_flags)
                frag.flags.append(first_flags if i == 0 and first_flags is not None else flags)
                frag.cto.append(values.get("cto", 0))
            out.append(frag)
    return out
