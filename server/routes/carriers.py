"""Carrier accounts: an organization's credentials for Twilio, Telnyx, Plivo, Vonage or
Exotel. Credentials are encrypted at rest (``services.secret_box``) and never returned."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
from pydantic import BaseModel, Field

from db import carriers as carriers_db
from server.api import ApiContext, Router
from server.errors import ApiError, conflict, not_found
from telephony.registry import CARRIERS, missing_credentials

router = Router(tags=["carriers"])

_HINT_FIELDS = ("account_sid", "auth_id", "application_id", "connection_id")


class CarrierAccountIn(BaseModel):
    carrier: str = Field(description="One of: " + ", ".join(CARRIERS))
    name: str = Field(min_length=1, max_length=200)
    credentials: dict[str, str] = Field(
        description="Carrier credentials (e.g. Twilio: account_sid, auth_token). Write-only."
    )


class CarrierAccountPatch(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    credentials: dict[str, str] | None = Field(default=None, description="Replaces all stored credentials")


class CarrierAccountOut(BaseModel):
    id: UUID
    carrier: str
    name: str
    account_hint: str | None = Field(description="Non-secret account identifier")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: Any) -> CarrierAccountOut:
        return cls(**{k: row[k] for k in cls.model_fields})


def _check_credentials(carrier: str, credentials: dict[str, str]) -> str | None:
    if carrier not in CARRIERS:
        raise ApiError(
            422,
            "validation_error",
            f"unknown carrier {carrier!r}",
            [{"pointer": "/body/carrier", "code": "unknown_carrier",
              "message": "one of " + ", ".join(CARRIERS)}],
        )
    missing = missing_credentials(carrier, credentials)
    if missing:
        raise ApiError(
            422,
            "validation_error",
            "missing credentials: " + ", ".join(missing),
            [{"pointer": f"/body/credentials/{m}", "code": "missing", "message": "required"}
             for m in missing],
        )
    return next((credentials[f] for f in _HINT_FIELDS if credentials.get(f)), None)


@router.post(
    "/api/v1/carriers", body=CarrierAccountIn, response=CarrierAccountOut, status=201,
    role="admin",
)  # fmt: skip
async def create_carrier_account(ctx: ApiContext) -> CarrierAccountOut:
    """Store carrier credentials for the organization (encrypted at rest)"""
    hint = _check_credentials(ctx.body.carrier, ctx.body.credentials)
    row = await carriers_db.create(
        ctx.db,
        ctx.caller.organization_id,
        carrier=ctx.body.carrier,
        name=ctx.body.name,
        credentials=ctx.services.secret_box.encrypt(json.dumps(ctx.body.credentials)),
        account_hint=hint,
    )
    return CarrierAccountOut.of(row)


@router.get("/api/v1/carriers", response=list[CarrierAccountOut])
async def list_carrier_accounts(ctx: ApiContext) -> list[CarrierAccountOut]:
    """List the organization's carrier accounts (credentials are never returned)"""
    rows = await carriers_db.list_for_org(ctx.db, ctx.caller.organization_id)
    return [CarrierAccountOut.of(r) for r in rows]


@router.get("/api/v1/carriers/{account_id:uuid}", response=CarrierAccountOut)
async def get_carrier_account(ctx: ApiContext) -> CarrierAccountOut:
    """Get one carrier account"""
    row = await carriers_db.get(ctx.db, ctx.caller.organization_id, ctx.path["account_id"])
    if row is None:
        raise not_found("carrier account")
    return CarrierAccountOut.of(row)


@router.patch(
    "/api/v1/carriers/{account_id:uuid}", body=CarrierAccountPatch, response=CarrierAccountOut,
    role="admin",
)  # fmt: skip
async def update_carrier_account(ctx: ApiContext) -> CarrierAccountOut:
    """Rename a carrier account or replace its credentials"""
    org, account_id = ctx.caller.organization_id, ctx.path["account_id"]
    current = await carriers_db.get(ctx.db, org, account_id)
    if current is None:
        raise not_found("carrier account")
    encrypted, hint = None, None
    if ctx.body.credentials is not None:
        hint = _check_credentials(current["carrier"], ctx.body.credentials)
        encrypted = ctx.services.secret_box.encrypt(json.dumps(ctx.body.credentials))
    row = await carriers_db.update(
        ctx.db, org, account_id, name=ctx.body.name, credentials=encrypted, account_hint=hint
    )
    if row is None:
        raise not_found("carrier account")
    return CarrierAccountOut.of(row)


@router.delete("/api/v1/carriers/{account_id:uuid}", status=204, role="admin")
async def delete_carrier_account(ctx: ApiContext) -> None:
    """Delete a carrier account (refused while phone numbers use it)"""
    try:
        deleted = await carriers_db.delete(ctx.db, ctx.caller.organization_id, ctx.path["account_id"])
    except asyncpg.ForeignKeyViolationError:
        raise conflict("phone numbers still use this carrier account") from None
    if not deleted:
        raise not_found("carrier account")
