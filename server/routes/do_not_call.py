"""The organization's do-not-call list: numbers no campaign dials (imports refuse them,
pending contacts with the number stop)."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, field_validator
from starlette.responses import JSONResponse

from db import campaign_contacts as contacts_db
from db import do_not_call as dnc_db
from server.api import ApiContext, Router
from server.errors import bad_request, not_found
from telephony.numbers import normalize_e164

router = Router(tags=["campaigns"])


class DoNotCallIn(BaseModel):
    phone_number: str = Field(description="E.164")
    reason: str = Field(default="", max_length=500)

    @field_validator("phone_number")
    @classmethod
    def _e164(cls, value: str) -> str:
        return normalize_e164(value)


class DoNotCallOut(BaseModel):
    phone_number: str
    reason: str
    source: Literal["api", "opt_out", "import"]
    created_at: datetime


class DoNotCallPage(BaseModel):
    items: list[DoNotCallOut]
    next_cursor: str | None


class DoNotCallQuery(BaseModel):
    limit: int = Field(default=50, ge=1, le=500)
    cursor: str | None = None


def _number(ctx: ApiContext) -> str:
    try:
        return normalize_e164(ctx.path["phone_number"])
    except ValueError:
        raise bad_request("not an E.164 phone number", "phone_number") from None


@router.post(
    "/api/v1/do-not-call",
    body=DoNotCallIn,
    response=DoNotCallOut,
    status=201,
    also={200: DoNotCallOut},
    summary="Put a number on the do-not-call list (200 when it already was); its "
    "pending campaign contacts stop (opted-out)",
)
async def add_number(ctx: ApiContext) -> DoNotCallOut | JSONResponse:
    body: DoNotCallIn = ctx.body
    org = ctx.caller.organization_id
    row, created = await dnc_db.add(ctx.db, org, body.phone_number, reason=body.reason, source="api")
    await contacts_db.opt_out_contacts(ctx.db, org, body.phone_number)
    out = DoNotCallOut(**dict(row.items()))
    if not created:
        return JSONResponse(out.model_dump(mode="json"), status_code=200)
    return out


@router.get(
    "/api/v1/do-not-call",
    errors=[400],
    query=DoNotCallQuery,
    response=DoNotCallPage,
    summary="The do-not-call list, newest first",
)
async def list_numbers(ctx: ApiContext) -> DoNotCallPage:
    q: DoNotCallQuery = ctx.query
    before = None
    if q.cursor:
        try:
            at, number = base64.urlsafe_b64decode(q.cursor.encode()).decode().split("|")
            before = (datetime.fromisoformat(at), number)
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise bad_request("invalid cursor", "cursor") from None
    rows = await dnc_db.list_page(ctx.db, ctx.caller.organization_id, limit=q.limit + 1,
                                  before=before)  # fmt: skip
    page = rows[: q.limit]
    cursor = None
    if len(rows) > q.limit:
        last = page[-1]
        raw = f"{last['created_at'].isoformat()}|{last['phone_number']}"
        cursor = base64.urlsafe_b64encode(raw.encode()).decode()
    return DoNotCallPage(items=[DoNotCallOut(**dict(r.items())) for r in page], next_cursor=cursor)


@router.get(
    "/api/v1/do-not-call/{phone_number}",
    errors=[400],
    response=DoNotCallOut,
    summary="Whether a number is on the list (404 when not)",
)
async def get_number(ctx: ApiContext) -> DoNotCallOut:
    row = await dnc_db.get(ctx.db, ctx.caller.organization_id, _number(ctx))
    if row is None:
        raise not_found("do-not-call entry")
    return DoNotCallOut(**dict(row.items()))


@router.delete(
    "/api/v1/do-not-call/{phone_number}",
    errors=[400],
    status=204,
    summary="Take a number off the list (contacts it stopped stay opted-out)",
)
async def remove_number(ctx: ApiContext) -> None:
    if not await dnc_db.delete(ctx.db, ctx.caller.organization_id, _number(ctx)):
        raise not_found("do-not-call entry")
