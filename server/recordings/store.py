"""The recording store: where a finished recording is put, read back and deleted.

Blocking code, meant to run on the store's own worker threads (``Recordings.run``), never on
the event loop. Two kinds of location, one store:

- ``file://``: the pipeline's writer thread streams the recording straight into its final
  place (``<root>/<org>/<call>.wav``); "putting" it only checks the file and names it. On a
  fleet the directory must be shared (a network volume) for every instance to serve it.
- ``s3://``: the writer streams to a local spool (``DATA_DIR/recordings-spool``); at the end
  of the call the file is uploaded (boto3's managed transfer: multipart above 16 MB), the
  object's size is checked with a HEAD, and only then may the local copy go.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from server.recordings.location import (
    FileLocation,
    Location,
    S3Location,
    object_name,
    parse_recordings_url,
)

if TYPE_CHECKING:
    from server.settings import Settings

CHUNK_BYTES = 64 * 1024
SPOOL_DIR = "recordings-spool"
_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+)$")


class UploadNotVerified(Exception):
    """The stored object is not the file that was uploaded (size differs)."""


class RangeNotSatisfiable(Exception):
    def __init__(self, size: int) -> None:
        super().__init__(f"range not satisfiable (size {size})")
        self.size = size


@dataclass(frozen=True, slots=True)
class Stored:
    url: str
    size: int


@dataclass(slots=True)
class ObjectBody:
    """An S3 object (or the requested byte range of it), read in chunks on a worker thread."""

    size: int  # the whole object
    start: int
    end: int  # inclusive
    partial: bool
    body: Any  # botocore StreamingBody

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    def read_chunk(self) -> bytes:
        return bytes(self.body.read(CHUNK_BYTES))

    def close(self) -> None:
        self.body.close()


def s3_client(settings: Settings) -> Any:
    """A boto3 S3 client for ``S3_ENDPOINT_URL`` / ``S3_REGION`` with the standard AWS
    credential chain (``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY``, a profile, a role).
    Path-style addressing when an endpoint is set (MinIO and most S3-compatible stores)."""
    import boto3
    from botocore.config import Config

    config = Config(
        retries={"max_attempts": 3, "mode": "standard"},
        connect_timeout=5,
        read_timeout=30,
        s3={"addressing_style": "path" if settings.s3_endpoint_url else "auto"},
    )
    return boto3.session.Session().client(
        "s3", endpoint_url=settings.s3_endpoint_url, region_name=settings.s3_region or "us-east-1",
        config=config,
    )  # fmt: skip


class RecordingStore:
    """The configured store (``RECORDINGS_URL``) and reads/deletes of any stored location."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        data_dir = Path(settings.data_dir).resolve()
        if settings.recordings_url:
            self.target: Location = parse_recordings_url(settings.recordings_url)
        else:
            self.target = FileLocation(data_dir / "recordings")
        self.spool_dir = data_dir / SPOOL_DIR
        self._s3: Any = None

    @property
    def remote(self) -> bool:
        """Whether recordings are uploaded at the end of the call (and spooled until then)."""
        return isinstance(self.target, S3Location)

    @property
    def s3(self) -> Any:
        if self._s3 is None:
            self._s3 = s3_client(self.settings)
        return self._s3

    def spool_path(self, organization_id: object, call_id: object) -> Path:
        """Where the pipeline writes the call's recording (no I/O)."""
        if isinstance(self.target, FileLocation):
            return self.target.path / object_name(organization_id, call_id)
        return self.spool_dir / object_name(organization_id, call_id)

    def _key(self, organization_id: object, call_id: object) -> str:
        assert isinstance(self.target, S3Location)
        name = object_name(organization_id, call_id)
        return f"{self.target.key}/{name}" if self.target.key else name

    def put(self, local: Path, organization_id: object, call_id: object) -> Stored:
        """Store the finished recording at ``local``; raises unless it is verifiably stored."""
        size = local.stat().st_size
        if isinstance(self.target, FileLocation):
            return Stored(FileLocation(local.resolve()).url(), size)
        from boto3.s3.transfer import TransferConfig

        key = self._key(organization_id, call_id)
        transfer = TransferConfig(multipart_threshold=16 * 1024 * 1024, max_concurrency=2)
        self.s3.upload_file(str(local), self.target.bucket, key, Config=transfer,
                            ExtraArgs={"ContentType": "audio/wav"})  # fmt: skip
        head = self.s3.head_object(Bucket=self.target.bucket, Key=key)
        if int(head["ContentLength"]) != size:
            raise UploadNotVerified(f"s3://{self.target.bucket}/{key}: "
                                    f"{head['ContentLength']} bytes stored, {size} uploaded")  # fmt: skip
        return Stored(S3Location(self.target.bucket, key).url(), size)

    def delete(self, location: Location) -> None:
        """Delete a stored recording (already gone is fine)."""
        if isinstance(location, FileLocation):
            location.path.unlink(missing_ok=True)
        else:
            self.s3.delete_object(Bucket=location.bucket, Key=location.key)

    def exists(self, location: Location) -> bool:
        if isinstance(location, FileLocation):
            return location.path.is_file()
        from botocore.exceptions import ClientError

        try:
            self.s3.head_object(Bucket=location.bucket, Key=location.key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def open(self, location: S3Location, byte_range: str | None) -> ObjectBody | None:
        """GET the object (``byte_range``: one ``bytes=a-b`` range), ``None`` when missing."""
        from botocore.exceptions import ClientError

        args: dict[str, Any] = {"Bucket": location.bucket, "Key": location.key}
        if byte_range:
            args["Range"] = byte_range
        try:
            got = self.s3.get_object(**args)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code in ("NoSuchKey", "404", "NotFound"):
                return None
            if code == "InvalidRange":
                head = self.s3.head_object(Bucket=location.bucket, Key=location.key)
                raise RangeNotSatisfiable(int(head["ContentLength"])) from None
            raise
        length = int(got["ContentLength"])
        match = _CONTENT_RANGE.match(got.get("ContentRange") or "")
        if match:
            start, end, size = (int(g) for g in match.groups())
            return ObjectBody(size, start, end, True, got["Body"])
        return ObjectBody(length, 0, length - 1, False, got["Body"])

    def spooled(self) -> Iterator[tuple[str, str, Path]]:
        """Recordings left in the spool (an upload that never finished): (org, call, path)."""
        if not self.remote or not self.spool_dir.is_dir():
            return
        for org_dir in sorted(self.spool_dir.iterdir()):
            if not org_dir.is_dir():
                continue
            for path in sorted(org_dir.glob("*.wav")):
                yield org_dir.name, path.stem, path
