"""API keys for server-to-server use: created (secret shown once), listed, revoked."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from db import api_keys as api_keys_db
from server.api import ApiContext, Router
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
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, row: Any) -> ApiKeyOut:
        return cls(**{k: row[k] for k in cls.model_fields})


class ApiKeyCreatedOut(ApiKeyOut):
    key: str = Field(description="The secret. Shown only in this response; store it now.")


@router.post(
    "/api/v1/api-keys", body=ApiKeyIn, response=ApiKeyCreatedOut, status=201, role="admin"
)
async def create_api_key(ctx: ApiContext) -> ApiKeyCreatedOut:
    """Create an API key for the current organization (the secret is returned once)"""
    new = await identity.create_api_key(
        ctx.db,
        ctx.caller.organization_id,
        name=ctx.body.name,
        role=ctx.body.role,
        created_by=ctx.caller.user_id,
    )
    return ApiKeyCreatedOut(**ApiKeyOut.of(new.record).model_dump(), key=new.secret)


@router.get("/api/v1/api-keys", response=list[ApiKeyOut], role="admin")
async def list_api_keys(ctx: ApiContext) -> list[ApiKeyOut]:
    """List the organization's API keys (prefix only, never the secret)"""
    rows = await api_keys_db.list_for_org(ctx.db, ctx.caller.organization_id)
    return [ApiKeyOut.of(r) for r in rows]


@router.delete("/api/v1/api-keys/{key_id:uuid}", response=ApiKeyOut, role="admin")
async def revoke_api_key(ctx: ApiContext) -> ApiKeyOut:
    """Revoke an API key; it stops authenticating immediately"""
    row = await api_keys_db.revoke(ctx.db, ctx.caller.organization_id, ctx.path["key_id"])
    if row is None:
        raise not_found("API key")
    return ApiKeyOut.of(row)
