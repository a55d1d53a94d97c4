"""Tool secrets: values workflow HTTP tools send in headers as ``{{secret.NAME}}``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from db import tool_secrets as secrets_db
from runtime.workflow import NAME_PATTERN
from server import audit
from server.api import ApiContext, Router
from server.audit import AuditAction
from server.errors import bad_request, not_found

router = Router(tags=["workflows"])


class ToolSecretIn(BaseModel):
    value: str = Field(min_length=1, max_length=4_000)


class ToolSecretOut(BaseModel):
    name: str
    hint: str = Field(description="Last 4 characters of long values, else empty")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: Any) -> ToolSecretOut:
        return cls(**{k: row[k] for k in cls.model_fields})


def _name(ctx: ApiContext) -> str:
    import re

    name = ctx.path["name"]
    if not re.match(NAME_PATTERN, name):
        raise bad_request("secret names are lower_snake_case", "name", location="path")
    return name


@router.get("/api/v1/tool-secrets", response=list[ToolSecretOut],
            summary="List tool secret names (values are write-only)")
async def list_tool_secrets(ctx: ApiContext) -> list[ToolSecretOut]:
    rows = await secrets_db.list_for_org(ctx.db, ctx.caller.organization_id)
    return [ToolSecretOut.of(r) for r in rows]


@router.put("/api/v1/tool-secrets/{name}", body=ToolSecretIn, response=ToolSecretOut,
            summary="Store (or replace) a secret used by HTTP tools as {{secret.NAME}} in "
                    "headers; encrypted at rest and never returned")
async def put_tool_secret(ctx: ApiContext) -> ToolSecretOut:
    value: str = ctx.body.value
    row = await secrets_db.upsert(
        ctx.db, ctx.caller.organization_id, _name(ctx),
        value_ciphertext=ctx.services.secret_box.encrypt(value),
        hint=value[-4:] if len(value) >= 12 else "",
    )
    await audit.record(ctx, AuditAction.TOOL_SECRET_SET, target_type="tool_secret",
                       target_id=row["name"])
    return ToolSecretOut.of(row)


@router.delete("/api/v1/tool-secrets/{name}", status=204,
               summary="Delete a tool secret")
async def delete_tool_secret(ctx: ApiContext) -> None:
    name = _name(ctx)
    if not await secrets_db.delete(ctx.db, ctx.caller.organization_id, name):
        raise not_found("tool secret")
    await audit.record(ctx, AuditAction.TOOL_SECRET_DELETED, target_type="tool_secret",
                       target_id=name)
