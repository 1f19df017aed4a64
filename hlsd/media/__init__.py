"""Pure HLS models: media and master playlists, the ladder's measured figures, the shared
timeline, the deletion schedule. No I/O and no clock: time is passed in."""
