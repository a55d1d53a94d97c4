"""Serving and deleting one call's recording (the routes' work, after the organization check).

Recordings are streamed through the API rather than answered with a presigned redirect: the
organization check then covers every byte, the S3 endpoint need not be reachable from the
caller's browser (MinIO on a private network, a cluster-internal endpoint), the console's
Content-Security-Policy and CORS stay as they are, and no bearer URL to the object ends up
in browser history or proxy logs. A single ``Range`` is passed to the store (a 206 with
``Content-Range``, as local files answer), so players can seek.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import structlog
from starlette.responses import FileResponse, Response, StreamingResponse

from db import recordings as recordings_db
from db.recordings import RecordingRow
from server.errors import ApiError, not_found
from server.recordings.location import FileLocation, parse_stored_url
from server.recordings.service import Recordings
from server.recordings.store import ObjectBody, RangeNotSatisfiable

log = structlog.get_logger(__name__)
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def single_range(header: str | None) -> str | None:
    """A one-range ``Range`` header, normalized; anything else (several ranges, another
    unit, malformed) is ignored and the whole recording is served, as RFC 9110 allows."""
    if not header:
        return None
    match = _RANGE.match(header.strip().replace(" ", ""))
    if not match or match.groups() == ("", ""):
        return None
    first, last = match.groups()
    if first and last and int(last) < int(first):
        return None
    return f"bytes={first}-{last}"


def storage_unavailable() -> ApiError:
    return ApiError(503, "storage_unavailable", "the recording store did not answer; try again",
                    headers={"Retry-After": "5"})  # fmt: skip


async def recording_response(recordings: Recordings, row: RecordingRow | None,
                             range_header: str | None) -> Response:  # fmt: skip
    if row is None or row.ended_at is None or not (row.recording_url or row.recording_path):
        raise not_found("recording")
    filename = f"{row.call_id}.wav"
    if row.recording_url is None:  # still on the instance that recorded it, being stored
        local = recordings.spool_path(row.organization_id, row.call_id)
        if str(local) == row.recording_path and await recordings.run(local.is_file):
            return FileResponse(local, media_type="audio/wav", filename=filename)
        raise ApiError(409, "recording_pending",
                       "the recording is still being stored; try again in a few seconds",
                       headers={"Retry-After": "5"})  # fmt: skip
    location = parse_stored_url(row.recording_url)
    if isinstance(location, FileLocation):
        if not await recordings.run(location.path.is_file):
            raise not_found("recording")
        return FileResponse(location.path, media_type="audio/wav", filename=filename)
    try:
        body = await recordings.run(recordings.store.open, location, single_range(range_header))
    except RangeNotSatisfiable as exc:
        raise ApiError(416, "range_not_satisfiable", "the requested range is not in the recording",
                       headers={"Content-Range": f"bytes */{exc.size}"}) from None  # fmt: skip
    except Exception as exc:
        log.warning("recording_read_failed", call_id=str(row.call_id),
                    error=f"{type(exc).__name__}: {exc}"[:300])  # fmt: skip
        raise storage_unavailable() from None
    if body is None:
        raise not_found("recording")
    headers = {"Accept-Ranges": "bytes", "Content-Length": str(body.length),
               "Content-Disposition": f'attachment; filename="{filename}"'}  # fmt: skip
    if body.partial:
        headers["Content-Range"] = f"bytes {body.start}-{body.end}/{body.size}"
    return StreamingResponse(_chunks(recordings, body), status_code=206 if body.partial else 200,
                             media_type="audio/wav", headers=headers)  # fmt: skip


async def _chunks(recordings: Recordings, body: ObjectBody) -> AsyncIterator[bytes]:
    try:
        while chunk := await recordings.run(body.read_chunk):
            yield chunk
    finally:
        await recordings.run(body.close)


async def delete_recording(recordings: Recordings, row: RecordingRow) -> bool:
    """Delete the call's recording from the store and mark the call; False when it had none.
    A store that does not answer is a 503 and the recording is kept."""
    for _ in range(3):  # an upload may finish between the read and the update: re-read
        if row.deleted_at is not None or not (row.recording_url or row.recording_path):
            return False
        if row.recording_url:
            try:
                await recordings.run(recordings.store.delete, parse_stored_url(row.recording_url))
            except Exception as exc:
                log.warning("recording_delete_failed", call_id=str(row.call_id),
                            error=f"{type(exc).__name__}: {exc}"[:300])  # fmt: skip
                raise storage_unavailable() from None
        else:  # pending: stop a local upload; an upload elsewhere deletes what it stored
            recordings.cancel_upload(row.call_id)
            local = recordings.spool_path(row.organization_id, row.call_id)
            if str(local) == row.recording_path:  # made here (another instance's disk is not ours)
                await recordings.run(local.unlink, True)
        if await recordings_db.mark_deleted(recordings.db, row.organization_id, row.call_id,
                                            reason="api", url=row.recording_url):  # fmt: skip
            return True
        fresh = await recordings_db.get(recordings.db, row.organization_id, row.call_id)
        if fresh is None:
            return False
        row = fresh
    return False
