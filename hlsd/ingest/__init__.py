"""Ingest: the stage that owns a live input, before encoding.

It keeps the input and its backups open (hlsd.ingest.reader), decides what is on air
(hlsd.ingest.policy: an input, the slate, or nothing), and feeds the encoders one stream
through pipes (hlsd.ingest.subscribers), so a lost input becomes a switch, never a stall.
Inputs hlsd does not own (a finite file, stdin) go through hlsd.ingest.fanout.
"""
