"""Publishing: from the segmenters' events to every destination.

The intake turns each announced segment into a SegmentFile and offers it to every
Destination; each Destination stores segments in order (its own lanes, retries and
backoff), then its variant playlists, then the master, and deletes what expired.
Backends (copy, ftp, sftp, s3) sit behind one Protocol in hlsd.publish.transfer.
"""
