"""A call's recording: stream it (local file or object storage), delete it."""

from __future__ import annotations

from starlette.responses import Response

from db import recordings as recordings_db
from server import audit
from server.api import ApiContext, Router
from server.audit import AuditAction
from server.errors import not_found
from server.recordings.serve import delete_recording, recording_response

router = Router(tags=["calls"])


@router.get("/api/v1/calls/{call_id:uuid}/recording", raw=True, errors=[409, 416, 503],
            summary="The call's recording: stereo WAV, left = caller, right = agent",
            description="Streamed from wherever it is stored (one byte `Range` answers 206). "
                        "409 `recording_pending` while the recording is still being stored "
                        "after the call; 503 when the store does not answer.")  # fmt: skip
async def get_recording(ctx: ApiContext) -> Response:
    row = await recordings_db.get(ctx.db, ctx.caller.organization_id, ctx.path["call_id"])
    return await recording_response(ctx.services.recordings, row,
                                     ctx.request.headers.get("range"))  # fmt: skip


@router.delete("/api/v1/calls/{call_id:uuid}/recording", status=204, errors=[503],
               summary="Delete the call's recording (from the store; the call record stays)")  # fmt: skip
async def delete_call_recording(ctx: ApiContext) -> None:
    row = await recordings_db.get(ctx.db, ctx.caller.organization_id, ctx.path["call_id"])
    if row is None or row.ended_at is None:  # a live call's recording is still being written
        raise not_found("recording")
    url = row.recording_url
    if not await delete_recording(ctx.services.recordings, row):
        raise not_found("recording")
    await audit.record(ctx, AuditAction.RECORDING_DELETED, target_type="call",
                       target_id=row.call_id, details={"stored": url is not None})  # fmt: skip
