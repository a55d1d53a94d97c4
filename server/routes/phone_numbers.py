"""Phone numbers: the organization's numbers, the carrier account they live on, the
workflow that answers inbound calls and whether they may be used as caller id."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import asyncpg
import structlog
from pydantic import BaseModel, Field, StringConstraints, field_validator

from db import carriers as carriers_db
from db import phone_numbers as numbers_db
from server.api import ApiContext, Router
from server.billing.entitlements import within_limit
from server.calls.phone.carriers import provider_for
from server.errors import ApiError, conflict, not_found
from server.routes.carriers import carrier_failed
from telephony.contract import CarrierApiError, UnsupportedOperation
from telephony.numbers import normalize_e164

log = structlog.get_logger(__name__)
router = Router(tags=["phone numbers"])


# stored text: no control characters (a NUL would reach PostgreSQL and become a 500)
Label = Annotated[str, StringConstraints(max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$")]


class PhoneNumberIn(BaseModel):
    number: str = Field(description="E.164, e.g. +14155550100", max_length=32)
    carrier_account_id: UUID
    workflow_id: UUID | None = Field(default=None, description="Answers inbound calls")
    caller_id_allowed: bool = True
    label: Label | None = None

    @field_validator("number")
    @classmethod
    def _e164(cls, value: str) -> str:
        return normalize_e164(value)


class PhoneNumberPatch(BaseModel):
    carrier_account_id: UUID | None = None
    workflow_id: UUID | None = None
    caller_id_allowed: bool | None = None
    label: Label | None = None


class PhoneNumberOut(BaseModel):
    id: UUID
    number: str
    carrier: str
    carrier_account_id: UUID
    workflow_id: UUID | None
    caller_id_allowed: bool
    label: str | None
    verified_at: datetime | None = Field(
        description="When the carrier account confirmed holding the number (null: not verified)"
    )
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
    role="admin", errors=[402],
)  # fmt: skip
async def create_phone_number(ctx: ApiContext) -> PhoneNumberOut:
    """Add a phone number the organization holds at a carrier (verified against the carrier
    account's numbers where the carrier can be asked)"""
    body: PhoneNumberIn = ctx.body
    await _check_refs(ctx, body.carrier_account_id, body.workflow_id)
    verified = await _verify_ownership(ctx, body.carrier_account_id, body.number)
    try:
        async with within_limit(ctx.services, ctx.caller.organization_id, "phone_numbers") as conn:
            row = await numbers_db.create(
                conn,
                ctx.caller.organization_id,
                number=body.number,
                carrier_account_id=body.carrier_account_id,
                workflow_id=body.workflow_id,
                caller_id_allowed=body.caller_id_allowed,
                label=body.label,
                verified=verified,
            )
    except asyncpg.UniqueViolationError:  # this organization's own number only
        raise conflict("this organization already has this phone number", "number") from None
    return PhoneNumberOut.of(row)


async def _verify_ownership(ctx: ApiContext, account_id: UUID, number: str) -> bool:
    """True when the carrier account lists ``number``; 422 when it does not (whoever else
    registered it: nothing about other organizations is revealed); False when the carrier
    cannot be asked (no listing API for these credentials, or unreachable)."""
    account = await carriers_db.get_with_credentials(ctx.db, ctx.caller.organization_id, account_id)
    if account is None:
        raise not_found("carrier account")
    provider = provider_for(ctx.services, account["carrier"], account["credentials"])
    try:
        held = await provider.account_has_number(number)
    except UnsupportedOperation:
        return False
    except CarrierApiError as exc:
        if exc.code == "carrier_unreachable":
            log.warning("phone_number_unverified", code=exc.code, error=exc.detail)
            return False
        raise carrier_failed(exc, "the carrier did not confirm the account's numbers") from None
    except Exception as exc:  # an SDK surprise is still the carrier's failure, not a 500
        raise carrier_failed(exc, "the carrier did not confirm the account's numbers") from None
    finally:
        await provider.aclose()
    if not held:
        raise ApiError(
            422, "validation_error", "the carrier account does not list this phone number",
            [{"pointer": "/body/number", "message": "not a number of this carrier account"}],
        )  # fmt: skip
    return True


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
