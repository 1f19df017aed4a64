"""hlsd: a live HTTP Live Streaming segmenter and distributor."""

__version__ = "0.1.0"
