"""The call page's extras: the customer-webhook deliveries a call caused, with attempts."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel

from db import call_deliveries
from db import calls as calls_db
from server.api import ApiContext, Router
from server.errors import not_found
from server.routes.webhooks import AttemptOut

router = Router(tags=["calls"])


class CallDeliveryOut(BaseModel):
    id: UUID
    webhook_id: UUID
    url: str
    event: str
    status: Literal["pending", "delivered", "failed"]
    attempts: list[AttemptOut]
    created_at: datetime
    delivered_at: datetime | None


@router.get("/api/v1/calls/{call_id:uuid}/webhook-deliveries", response=list[CallDeliveryOut],
            summary="The webhook deliveries a call caused (call.ended, call.analyzed), oldest "
                    "first, each with every attempt")  # fmt: skip
async def call_webhook_deliveries(ctx: ApiContext) -> list[CallDeliveryOut]:
    org, call_id = ctx.caller.organization_id, ctx.path["call_id"]
    if await calls_db.get(ctx.db, org, call_id) is None:
        raise not_found("call")
    rows = await call_deliveries.for_call(ctx.db, org, call_id)
    return [
        CallDeliveryOut(id=r["id"], webhook_id=r["webhook_id"], url=r["url"], event=r["event"],
                        status=r["status"], attempts=[AttemptOut(**a) for a in r["attempt_log"]],
                        created_at=r["created_at"], delivered_at=r["delivered_at"])
        for r in rows
    ]  # fmt: skip
