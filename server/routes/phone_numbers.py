"""Phone numbers: the organization's numbers, the carrier account they live on, the
workflow that answers inbound calls and whether they may be used as caller id."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
from pydantic import BaseModel, Field, field_validator

from db import carriers as carriers_db
from db import phone_numbers as numbers_db
from server.api import ApiContext, Router
from server.errors import conflict, not_found
from telephony.numbers import normalize_e164

router = Router(tags=["phone numbers"])


class PhoneNumberIn(BaseModel):
    number: str = Field(description="E.164, e.g. +14155550100")
    carrier_account_id: UUID
    workflow_id: UUID | None = Field(default=None, description="Answers inbound calls")
    caller_id_allowed: bool = True
    label: str | None = Field(default=None, max_length=200)

    @field_validator("number")
    @classmethod
    def _e164(cls, value: str) -> str:
        return normalize_e164(value)


class PhoneNumberPatch(BaseModel):
    carrier_account_id: UUID | None = None
    workflow_id: UUID | None = None
    caller_id_allowed: bool | None = None
    label: str | None = Field(default=None, max_length=200)


class PhoneNumberOut(BaseModel):
    id: UUID
    number: str
    carrier: str
    carrier_account_id: UUID
    workflow_id: UUID | None
    caller_id_allowed: bool
    label: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: Any) -> PhoneNumberOut:
        return cls(**{k: row[k] for k in cls.model_fields})


async def _check_refs(ctx: ApiContext, account_id: UUID | None, workflow_id: UUID | None) -> None:
    """Referenced rows must belong to the caller's organization (else 404)."""
    org = ctx.caller.organization_id
    if account_id is not None and await carriers_db.get(ctx.db, org, account_id) is None:
        raise not_found("carrier account")
    if workflow_id is not None and not await numbers_db.workflow_in_org(ctx.db, org, workflow_id):
        raise not_found("workflow")


@router.post(
    "/api/v1/phone-numbers", body=PhoneNumberIn, response=PhoneNumberOut, status=201,
    role="admin",
)  # fmt: skip
async def create_phone_number(ctx: ApiContext) -> PhoneNumberOut:
    """Add a phone number the organization owns at a carrier"""
    body: PhoneNumberIn = ctx.body
    await _check_refs(ctx, body.carrier_account_id, body.workflow_id)
    try:
        row = await numbers_db.create(
            ctx.db,
            ctx.caller.organization_id,
            number=body.number,
            carrier_account_id=body.carrier_account_id,
            workflow_id=body.workflow_id,
            caller_id_allowed=body.caller_id_allowed,
            label=body.label,
        )
    except asyncpg.UniqueViolationError:
        raise conflict("this phone number is already registered", "number") from None
    return PhoneNumberOut.of(row)


@router.get("/api/v1/phone-numbers", response=list[PhoneNumberOut])
async def list_phone_numbers(ctx: ApiContext) -> list[PhoneNumberOut]:
    """List the organization's phone numbers"""
    rows = await numbers_db.list_for_org(ctx.db, ctx.caller.organization_id)
    return [PhoneNumberOut.of(r) for r in rows]


@router.get("/api/v1/phone-numbers/{number_id:uuid}", response=PhoneNumberOut)
async def get_phone_number(ctx: ApiContext) -> PhoneNumberOut:
    """Get one phone number"""
    row = await numbers_db.get(ctx.db, ctx.caller.organization_id, ctx.path["number_id"])
    if row is None:
        raise not_found("phone number")
    return PhoneNumberOut.of(row)


@router.patch(
    "/api/v1/phone-numbers/{number_id:uuid}", body=PhoneNumberPatch, response=PhoneNumberOut,
    role="admin",
)  # fmt: skip
async def update_phone_number(ctx: ApiContext) -> PhoneNumberOut:
    """Change a number's workflow (null detaches it), carrier account, caller-id use or label"""
    body: PhoneNumberPatch = ctx.body
    fields = {name: getattr(body, name) for name in body.model_fields_set}
    if fields.get("carrier_account_id", 0) is None or fields.get("caller_id_allowed", 0) is None:
        fields = {k: v for k, v in fields.items() if v is not None or k in ("workflow_id", "label")}
    await _check_refs(ctx, fields.get("carrier_account_id"), fields.get("workflow_id"))
    row = await numbers_db.update(ctx.db, ctx.caller.organization_id, ctx.path["number_id"], fields=fields)
    if row is None:
        raise not_found("phone number")
    return PhoneNumberOut.of(row)


@router.delete("/api/v1/phone-numbers/{number_id:uuid}", status=204, role="admin")
async def delete_phone_number(ctx: ApiContext) -> None:
    """Remove a phone number"""
    if not await numbers_db.delete(ctx.db, ctx.caller.organization_id, ctx.path["number_id"]):
        raise not_found("phone number")
