"""Holds the native hlsd-segmenter executable built by setup.py."""
