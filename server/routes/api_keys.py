"""API keys for server-to-server use: created (secret shown once), listed, revoked.

A key belongs to the member who made it (``created_by``): it is revoked when that member
leaves or is demoted below the key's role (``server.auth.memberships``). A key made by the
CLI for a user who no longer exists shows ``created_by: null`` and belongs to the
organization.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from db import api_keys as api_keys_db
from server import audit
from server.api import ApiContext, Router
from server.audit import AuditAction
from server.auth import identity
from server.errors import not_found

router = Router(tags=["api keys"])


class ApiKeyIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    role: Literal["admin", "member"] = "admin"


class ApiKeyOut(BaseModel):
    id: UUID
    name: str
    prefix: str = Field(description="First characters of the key, to recognise it")
    role: str
    created_by: UUID | None = Field(description="The member who made it; the key lives only "
                                    "as long as their membership at this role")
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, row: Any) -> ApiKeyOut:
        return cls(**{k: row[k] for k in cls.model_fields})


class ApiKeyCreatedOut(ApiKeyOut):
    key: str = Field(description="The secret. Shown only in this response; store it now.")


@router.post("/api/v1/api-keys", body=ApiKeyIn, response=ApiKeyCreatedOut, status=201)
async def create_api_key(ctx: ApiContext) -> ApiKeyCreatedOut:
    """Create an API key for the current organization (the secret is returned once)

    The key belongs to its creator (a key made with an API key belongs to that key's
    creator): it is revoked when they leave or drop below the key's role.
    """
    org_id, creator = ctx.caller.organization_id, ctx.caller.user_id
    if creator is None and ctx.caller.api_key_id is not None:
        creator = await api_keys_db.creator_of(ctx.db, org_id, ctx.caller.api_key_id)
    new = await identity.create_api_key(
        ctx.db, org_id, name=ctx.body.name, role=ctx.body.role, created_by=creator
    )
    await audit.record(ctx, AuditAction.API_KEY_CREATED, target_type="api_key",
                       target_id=new.record["id"],
                       details={"name": ctx.body.name, "role": ctx.body.role})
    return ApiKeyCreatedOut(**ApiKeyOut.of(new.record).model_dump(), key=new.secret)


@router.get("/api/v1/api-keys", response=list[ApiKeyOut])
async def list_api_keys(ctx: ApiContext) -> list[ApiKeyOut]:
    """List the organization's API keys (prefix only, never the secret)"""
    rows = await api_keys_db.list_for_org(ctx.db, ctx.caller.organization_id)
    return [ApiKeyOut.of(r) for r in rows]


@router.delete("/api/v1/api-keys/{key_id:uuid}", response=ApiKeyOut)
async def revoke_api_key(ctx: ApiContext) -> ApiKeyOut:
    """Revoke an API key; it stops authenticating immediately"""
    row = await api_keys_db.revoke(ctx.db, ctx.caller.organization_id, ctx.path["key_id"])
    if row is None:
        raise not_found("API key")
    await audit.record(ctx, AuditAction.API_KEY_REVOKED, target_type="api_key",
                       target_id=row["id"], details={"name": row["name"]})
    return ApiKeyOut.of(row)
