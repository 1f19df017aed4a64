"""The service around the pipeline: the daemon's life cycle (start, stream, reload, stop),
its persisted state, and how it reports (logs, metrics, health, systemd notifications)."""
