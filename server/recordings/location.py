"""Where recordings live: ``RECORDINGS_URL`` and the location stored on each call row.

``RECORDINGS_URL`` is ``file:///path`` (a directory; the default is ``DATA_DIR/recordings``)
or ``s3://bucket/prefix`` (any S3-compatible store, ``S3_ENDPOINT_URL``). Each stored
recording's own location is kept on its call (``calls.recording_url``) in the same two
forms, so recordings made before a change of ``RECORDINGS_URL`` stay reachable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

# S3 bucket names: 3-63 lowercase letters, digits, dots and hyphens.
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")
_PREFIX_SEGMENT = re.compile(r"^[A-Za-z0-9._\-]+$")


@dataclass(frozen=True, slots=True)
class FileLocation:
    path: Path

    def url(self) -> str:
        return "file://" + str(self.path)


@dataclass(frozen=True, slots=True)
class S3Location:
    bucket: str
    key: str  # a prefix for RECORDINGS_URL, an object key for a stored recording

    def url(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


Location = FileLocation | S3Location


def parse_recordings_url(value: str) -> Location:
    """Parse ``RECORDINGS_URL``; ``ValueError`` says what is wrong."""
    parts = urlsplit(value)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise ValueError("file:// URLs name a local directory: file:///var/lib/recordings")
        path = unquote(parts.path)
        if not path.startswith("/"):
            raise ValueError("file:// URLs need an absolute path: file:///var/lib/recordings")
        return FileLocation(Path(path))
    if parts.scheme == "s3":
        if not _BUCKET.match(parts.netloc):
            raise ValueError("s3://bucket/prefix needs a valid bucket name (3-63 of a-z 0-9 . -)")
        if parts.query or parts.fragment:
            raise ValueError("s3://bucket/prefix takes no query or fragment")
        prefix = parts.path.strip("/")
        if prefix and not all(_PREFIX_SEGMENT.match(s) for s in prefix.split("/")):
            raise ValueError("the s3:// prefix may use letters, digits, '.', '_', '-' and '/'")
        return S3Location(parts.netloc, prefix)
    raise ValueError("must start with file:// or s3://")


def parse_stored_url(value: str) -> Location:
    """A call row's ``recording_url`` (written by the server: ``file://<path>`` or
    ``s3://bucket/key``; older rows may hold a relative path after ``file://``)."""
    if value.startswith("file://"):
        return FileLocation(Path(value[len("file://") :]))
    if value.startswith("s3://"):
        bucket, _, key = value[len("s3://") :].partition("/")
        if bucket and key:
            return S3Location(bucket, key)
    raise ValueError(f"not a recording location: {value[:40]!r}")


def object_name(organization_id: object, call_id: object) -> str:
    """A recording's name under the store's root or prefix."""
    return f"{organization_id}/{call_id}.wav"
