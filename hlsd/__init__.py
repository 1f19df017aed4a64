"""hlsd: a live HTTP Live Streaming segmenter and distributor.

The package is its pipeline, one subpackage per stage; dependencies point one way:

    config  ←  encode, media  ←  publish  ←  serve, service  ←  cli, demo, check

- ``config``  the YAML file → a frozen, validated Config (or one Problem per mistake).
- ``encode``  ffmpeg → pipe → hlsd-segmenter per rung; supervision, restarts, events.
- ``media``   pure HLS models: playlists, the ladder's figures, timeline, retention.
- ``publish`` segments and playlists to every destination (``transfer/`` backends).
- ``serve``   the built-in HTTP origin and player page.
- ``service`` the daemon's life: assembly, reload, state, health, metrics, logs, notify.

Words used throughout, each with one meaning:

- **rung**: one encoding profile's output — one bitrate/resolution of the stream, its
  segments and its variant playlist (named after the profile).
- **ladder**: all rungs of the stream together, as the master playlist lists them.
- **encoder**: one ffmpeg process. It writes one rung (``per_rung`` mode) or every rung
  (``shared`` mode, decoding the source once).
- **group**: one encoder together with the segmenters of the rungs it writes; the unit
  that is supervised and restarted.
- **destination**: one transfer profile (a directory, an FTP/SFTP host, an S3 bucket)
  that receives every rung.
"""

__version__ = "0.1.0"
