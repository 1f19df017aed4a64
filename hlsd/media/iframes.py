"""The I-frame playlist of a rung (RFC 8216 §4.3.3.6, Apple authoring 6.x): one entry per
keyframe, a byte range inside the rung's own segments, made from the same entries as the
rung's playlist (same window, discontinuities and retention), with the same
#EXT-X-DATERANGE ad markers, so a player scrubbing by I-frames sees the breaks under the
same IDs (not the legacy CUE-OUT/IN: they mark segments to replace, and stitchers read the
variant for that). Pure: no I/O."""

from __future__ import annotations

from datetime import timedelta

from hlsd.media.playlist import Entry, MediaPlaylist, format_pdt

IFRAME_VERSION = 5  # EXT-X-MAP in an I-frame playlist (RFC 8216 §7); BYTERANGE needs 4
PTS_WRAP = 1 << 33
CLOCK = 90_000.0


def has_iframes(playlist: MediaPlaylist) -> bool:
    return any(e.iframes for e in playlist.entries)


def _span(start: int, end: int) -> float:
    """Seconds from `start` to `end` (90 kHz, across the 33-bit wrap)."""
    return ((end - start) % PTS_WRAP) / CLOCK


def _duration(entry: Entry, index: int) -> float:
    """Keyframe `index` of `entry` lasts until the next keyframe of the segment, the last
    one until the segment's end (a segment starts with a keyframe, so that is the next
    one; never beyond, so no EXTINF can outgrow the target duration)."""
    pts = entry.iframes[index][2]
    if index + 1 < len(entry.iframes):
        return _span(pts, entry.iframes[index + 1][2])
    into = _span(entry.pts, pts) if entry.pts is not None else 0.0
    # A keyframe presented before the segment's first timestamp (reordering): from 0.
    return entry.duration - into if into <= entry.duration else entry.duration


def render_iframes(playlist: MediaPlaylist) -> str:
    entries = playlist.entries
    first = next((e.iframe_seq for e in entries if e.iframes), playlist.next_iframe)
    lines = [
        "#EXTM3U",
        f"#EXT-X-VERSION:{IFRAME_VERSION}",
        f"#EXT-X-TARGETDURATION:{playlist.target_duration}",
        f"#EXT-X-MEDIA-SEQUENCE:{first}",
        f"#EXT-X-DISCONTINUITY-SEQUENCE:{playlist.discontinuity_sequence}",
    ]
    if playlist.playlist_type:
        lines.append(f"#EXT-X-PLAYLIST-TYPE:{playlist.playlist_type}")
    lines.append("#EXT-X-I-FRAMES-ONLY")
    prefix = playlist.url_prefix
    current_map = None
    for entry in entries:
        if entry.discontinuity and entry.iframes:
            lines.append("#EXT-X-DISCONTINUITY")
        # Where the variant has them; on an entry without keyframes (a gap) too, as a
        # DATERANGE is dated by itself, not by the entry it comes with.
        lines += [m for m in entry.marks if m.startswith("#EXT-X-DATERANGE:")]
        for index, (offset, size, pts) in enumerate(entry.iframes):
            if entry.map_name is not None:
                wanted = f'#EXT-X-MAP:URI="{prefix}{entry.map_name}"'
            else:  # TS: each keyframe decodes after its own segment's PAT and PMT
                wanted = f'#EXT-X-MAP:URI="{prefix}{entry.name}",BYTERANGE="{entry.psi or 0}@0"'
            if wanted != current_map:
                lines.append(wanted)
                current_map = wanted
            if index == 0 and entry.program_date_time is not None and entry.pts is not None:
                into = _span(entry.pts, pts)
                at = entry.program_date_time + timedelta(
                    seconds=into if into <= entry.duration else 0.0)
                lines.append("#EXT-X-PROGRAM-DATE-TIME:" + format_pdt(at))
            lines += [f"#EXTINF:{_duration(entry, index):.3f},",
                      f"#EXT-X-BYTERANGE:{size}@{offset}",
                      prefix + entry.name]
    if playlist.ended:
        lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"
