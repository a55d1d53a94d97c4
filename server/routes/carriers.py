"""Carrier accounts: an organization's credentials for Twilio, Telnyx, Plivo, Vonage or
Exotel. Credentials are encrypted at rest (``services.secret_box``) and never returned."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import asyncpg
import structlog
from pydantic import BaseModel, Field, StringConstraints

from db import carriers as carriers_db
from server import audit
from server.api import ApiContext, Router
from server.errors import ApiError, conflict, not_found
from telephony.contract import CarrierApiError
from telephony.registry import CARRIERS, carrier_class, missing_credentials

log = structlog.get_logger(__name__)
router = Router(tags=["carriers"])

_HINT_FIELDS = ("account_sid", "auth_id", "application_id", "connection_id")


# stored text: no control characters (a NUL would reach PostgreSQL and become a 500)
Name = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$")]
# credential values: PEM keys hold newlines, nothing holds a NUL
CredentialValue = Annotated[str, StringConstraints(max_length=16_384, pattern=r"^[^\x00]*$")]
Credentials = Annotated[dict[Annotated[str, StringConstraints(max_length=64)], CredentialValue],
                        Field(max_length=32)]  # fmt: skip


class CarrierAccountIn(BaseModel):
    carrier: str = Field(description="One of: " + ", ".join(CARRIERS), max_length=32)
    name: Name
    credentials: Credentials = Field(
        description="Carrier credentials (e.g. Twilio: account_sid, auth_token). Write-only."
    )


class CarrierAccountPatch(BaseModel):
    name: Name | None = None
    credentials: Credentials | None = Field(default=None, description="Replaces all stored credentials")


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
    problems = carrier_class(carrier).credential_problems(credentials)
    if problems:
        raise ApiError(
            422,
            "validation_error",
            "invalid credentials: " + ", ".join(problems),
            [{"pointer": f"/body/credentials/{f}", "message": m} for f, m in problems.items()],
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
    await audit.record(ctx, audit.AuditAction.CARRIER_ACCOUNT_CREATED, target_type="carrier_account",
                       target_id=row["id"], details={"carrier": ctx.body.carrier})
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
    await audit.record(ctx, audit.AuditAction.CARRIER_ACCOUNT_UPDATED, target_type="carrier_account",
                       target_id=account_id, details={"credentials_replaced": encrypted is not None})
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
    await audit.record(ctx, audit.AuditAction.CARRIER_ACCOUNT_DELETED, target_type="carrier_account",
                       target_id=ctx.path["account_id"])


def carrier_failed(exc: Exception, message: str) -> ApiError:
    """A generic 502 for a failed carrier request: the upstream text stays in the log (it
    can describe the server's network: open vs closed ports, internal hosts)."""
    code = exc.code if isinstance(exc, CarrierApiError) else "carrier_error"
    log.warning("carrier_request_failed", code=code, error=getattr(exc, "detail", "") or repr(exc)[:300])
    return ApiError(502, "carrier_error", message)
