"""Encoding: from the config's encoding profiles to running encoder pipelines.

Per rung: ffmpeg (argv, no shell) → OS pipe → hlsd-segmenter → JSON event lines. This
stage starts, supervises and restarts those processes and reports what the segmenters
announce (`hlsd.encode.events`) to a sink it is given (the publish stage); it never
imports the publish stage.
"""
