"""The organization's audit log (admins): who changed what, newest first, paged."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field

from db import audit as audit_db
from server.api import ApiContext, Router
from server.audit import AuditAction
from server.pagination import decode_cursor, encode_cursor

router = Router(tags=["audit log"])


class AuditQuery(BaseModel):
    action: AuditAction | None = Field(default=None, description="Only this action")
    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(default=None, max_length=200)


class AuditEntryOut(BaseModel):
    id: UUID
    action: str
    actor_user_id: UUID | None = Field(description="The user who acted (null: API key or CLI)")
    actor_api_key_id: UUID | None
    target_type: str
    target_id: str
    details: dict[str, Any]
    ip: str | None
    created_at: datetime

    @classmethod
    def of(cls, row: Any) -> AuditEntryOut:
        return cls(**{k: row[k] for k in cls.model_fields})


class AuditPage(BaseModel):
    items: list[AuditEntryOut]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page")


@router.get("/api/v1/audit-log", query=AuditQuery, response=AuditPage, errors=[400])
async def list_audit_log(ctx: ApiContext) -> AuditPage:
    """The organization's audit log: keys, members, credentials, carrier accounts, workflow
    publishes and rollbacks, plan changes and calls placed through the API"""
    query: AuditQuery = ctx.query
    after = decode_cursor(query.cursor) if query.cursor else None
    rows = await audit_db.list_page(
        ctx.db, ctx.caller.organization_id, action=query.action.value if query.action else None,
        after=after, limit=query.limit + 1,
    )  # fmt: skip
    page = rows[: query.limit]
    cursor = encode_cursor(page[-1]) if len(rows) > query.limit else None
    return AuditPage(items=[AuditEntryOut.of(r) for r in page], next_cursor=cursor)
