"""Serving: the optional built-in HTTP origin (a copy destination's files, the player
page, /metrics, /healthz, /info.json) across the daemon's life."""
