"""Call recordings beyond the pipeline: where they are stored (``RECORDINGS_URL``: a local
directory or S3-compatible object storage), the upload at the end of a call, serving and
deleting them through the API, and retention. ``pipeline/recording.py`` writes the file."""

from server.recordings.service import Recordings

__all__ = ["Recordings"]
