"""A campaign's contacts: import (CSV streamed, or JSON) with a row-by-row report, the
filterable list with each attempt's calls, and the results CSV (streamed)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field, field_validator
from starlette.datastructures import UploadFile
from starlette.responses import StreamingResponse

from db import campaign_contacts as contacts_db
from db import campaigns as campaigns_db
from server.api import ApiContext, Router
from server.campaigns.contacts import (
    MAX_LISTED_ERRORS,
    ContactImport,
    ImportRefused,
    ImportReport,
    Rules,
    import_csv,
)
from server.campaigns.models import CONTACT_STATES, CampaignConfig, ContactState
from server.campaigns.progress import results_csv
from server.errors import ApiError, bad_request, conflict, not_found
from server.json_body import parse_json
from telephony.numbers import normalize_e164

router = Router(tags=["campaigns"])

_PATH = "/api/v1/campaigns/{campaign_id:uuid}"
MAX_JSON_CONTACTS = 10_000
UPLOAD_CHUNK = 64 * 1024


class RowErrorOut(BaseModel):
    row: int = Field(description="Line of the upload (1 = the first contact row)")
    code: str = Field(
        description="invalid_number, invalid_time_zone, duplicate, do_not_call, "
        "missing_variables, invalid_variable, malformed_row"
    )
    message: str
    phone_number: str | None


class ImportReportOut(BaseModel):
    received: int
    imported: int
    rejected: dict[str, int] = Field(description="Rows refused, by reason")
    errors: list[RowErrorOut] = Field(description=f"The first {MAX_LISTED_ERRORS} refused rows")
    errors_truncated: bool

    @classmethod
    def of(cls, report: ImportReport) -> ImportReportOut:
        return cls(received=report.received, imported=report.imported, rejected=report.rejected,
                   errors=[RowErrorOut(**e.__dict__) for e in report.errors],
                   errors_truncated=report.errors_truncated)  # fmt: skip


class AttemptOut(BaseModel):
    attempt: int
    call_id: UUID
    caller_id: str
    state: str
    outcome: str | None
    carrier_call_id: str | None
    idempotency_key: str = Field(description="Sent with every dial request of this attempt")
    dialed_at: datetime
    ended_at: datetime | None
    duration_seconds: float | None
    extracted: dict[str, Any] | None = Field(description="The call's extracted variables")


class ContactOut(BaseModel):
    id: UUID
    row: int
    phone_number: str
    time_zone: str
    variables: dict[str, Any]
    state: ContactState
    attempts: int
    last_outcome: str | None
    next_attempt_at: datetime | None
    finished_at: datetime | None
    calls: list[AttemptOut]


class ContactPage(BaseModel):
    items: list[ContactOut]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page")


class ContactQuery(BaseModel):
    state: str | None = Field(
        default=None, max_length=200, description="Filter by state; several: comma-separated"
    )
    phone_number: str | None = None
    limit: int = Field(default=50, ge=1, le=500)
    cursor: str | None = Field(default=None, description="Row number to continue after")

    @field_validator("state")
    @classmethod
    def _states(cls, value: str | None) -> str | None:
        if value is not None:
            unknown = [s for s in value.split(",") if s not in CONTACT_STATES]
            if unknown:
                raise ValueError(f"unknown state {unknown[0][:32]!r}: one of {', '.join(CONTACT_STATES)}")
        return value

    @field_validator("phone_number")
    @classmethod
    def _e164(cls, value: str | None) -> str | None:
        return normalize_e164(value) if value else None


async def _campaign(ctx: ApiContext) -> Any:
    row = await campaigns_db.get(ctx.db, ctx.caller.organization_id, ctx.path["campaign_id"])
    if row is None:
        raise not_found("campaign")
    return row


@router.post(
    f"{_PATH}/contacts",
    response=ImportReportOut,
    stream_body=True,
    errors=[409, 413, 415],
    summary="Add contacts: CSV (text/csv body, or multipart field 'file') with a "
    "phone_number column, optional time_zone, other columns as variables; or "
    "JSON {contacts: [{phone_number, time_zone?, variables?}]}. Streamed and "
    "checked row by row: good rows are kept, refused rows reported",
)
async def add_contacts(ctx: ApiContext) -> ImportReportOut:
    campaign = await _campaign(ctx)
    if campaign["state"] in ("completed", "canceled"):
        raise conflict(f"a {campaign['state']} campaign takes no contacts", code="invalid_state")
    config = CampaignConfig.model_validate(campaign["config"])
    rules = Rules(default_zone=config.schedule.time_zone,
                  required=frozenset(config.required_variables))  # fmt: skip
    org, campaign_id = ctx.caller.organization_id, campaign["id"]
    kind = ctx.request.headers.get("content-type", "").split(";")[0].strip().lower()
    limit = ctx.services.settings.campaign_import_max_bytes
    async with ctx.db.acquire() as conn, conn.transaction():  # all of the upload, or none
        first = await contacts_db.next_row_number(conn, org, campaign_id)
        target = ContactImport(conn, org, campaign_id, rules, first)
        try:
            if kind in ("text/csv", "application/csv", "text/plain"):
                report = await import_csv(_limited(ctx.request.stream(), limit), target)
            elif kind == "multipart/form-data":
                report = await _multipart(ctx, target, limit)
            elif kind == "application/json":
                report = await _json(ctx, target)
            else:
                raise ApiError(
                    415, "unsupported_media_type", "send text/csv, multipart/form-data (field 'file') or JSON"
                )
        except ImportRefused as exc:
            raise bad_request(exc.message, "file", code=exc.code) from None
    return ImportReportOut.of(report)


async def _limited(chunks: AsyncIterator[bytes], limit: int) -> AsyncIterator[bytes]:
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "payload_too_large", f"upload over {limit} bytes")
        yield chunk


async def _multipart(ctx: ApiContext, target: ContactImport, limit: int) -> ImportReport:
    form = await ctx.request.form(max_files=1, max_fields=5)  # files spool to disk past 1 MB
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise bad_request("the multipart body has no 'file' part", "file")
        if upload.size is not None and upload.size > limit:
            raise ApiError(413, "payload_too_large", f"upload over {limit} bytes")

        async def chunks() -> AsyncIterator[bytes]:
            while chunk := await upload.read(UPLOAD_CHUNK):
                yield chunk

        return await import_csv(_limited(chunks(), limit), target)
    finally:
        await form.close()


async def _json(ctx: ApiContext, target: ContactImport) -> ImportReport:
    from server.api import read_limited_body

    data = parse_json(await read_limited_body(ctx.request, ctx.services.settings.max_body_bytes))
    contacts = data.get("contacts") if isinstance(data, dict) else None
    if not isinstance(contacts, list) or (isinstance(data, dict) and set(data) - {"contacts"}):
        raise ApiError(422, "validation_error", "expected {contacts: [...]}",
                       [{"pointer": "/body/contacts", "code": "type",
                         "message": "a list of contacts"}])  # fmt: skip
    if len(contacts) > MAX_JSON_CONTACTS:
        raise ApiError(422, "validation_error", f"at most {MAX_JSON_CONTACTS} contacts per JSON "
                       "request (upload a CSV for more)",
                       [{"pointer": "/body/contacts", "code": "too_long",
                         "message": f"at most {MAX_JSON_CONTACTS}"}])  # fmt: skip
    for item in contacts:
        if not isinstance(item, dict):
            await target.add("", None, {})
            continue
        variables = item.get("variables")
        await target.add(item.get("phone_number"), item.get("time_zone"),
                         variables if isinstance(variables, dict) else {})  # fmt: skip
    return await target.finish()


@router.get(
    f"{_PATH}/contacts",
    errors=[400],
    query=ContactQuery,
    response=ContactPage,
    summary="The campaign's contacts in import order, filterable by state or number, "
    "each with its attempts (call ids, outcomes, extracted variables)",
)
async def list_contacts(ctx: ApiContext) -> ContactPage:
    campaign = await _campaign(ctx)
    q: ContactQuery = ctx.query
    try:
        after = int(q.cursor) if q.cursor else 0
    except ValueError:
        raise bad_request("invalid cursor", "cursor") from None
    org = ctx.caller.organization_id
    rows = await contacts_db.list_page(ctx.db, org, campaign["id"],
                                       states=q.state.split(",") if q.state else None,
                                       phone_number=q.phone_number, after_row=after,
                                       limit=q.limit + 1)  # fmt: skip
    page = rows[: q.limit]
    attempts = await campaigns_db.attempts_for_contacts(ctx.db, org, [r["id"] for r in page])
    by_contact: dict[UUID, list[AttemptOut]] = {}
    for a in attempts:
        by_contact.setdefault(a["contact_id"], []).append(AttemptOut(
            attempt=a["attempt"], call_id=a["call_id"], caller_id=a["caller_id"],
            state=a["state"], outcome=a["outcome"], carrier_call_id=a["carrier_call_id"],
            idempotency_key=a["idempotency_key"], dialed_at=a["dialed_at"], ended_at=a["ended_at"],
            duration_seconds=a["duration_seconds"], extracted=a["extracted"]))  # fmt: skip
    items = [ContactOut(
        id=r["id"], row=r["row_number"], phone_number=r["phone_number"],
        time_zone=r["time_zone"], variables=dict(r["variables"] or {}), state=r["state"],
        attempts=r["attempts"], last_outcome=r["last_outcome"],
        next_attempt_at=r["next_attempt_at"] if r["state"] == "pending" else None,
        finished_at=r["finished_at"], calls=by_contact.get(r["id"], []),
    ) for r in page]  # fmt: skip
    cursor = str(page[-1]["row_number"]) if len(rows) > q.limit else None
    return ContactPage(items=items, next_cursor=cursor)


@router.get(
    f"{_PATH}/results.csv",
    raw=True,
    summary="Every contact's result as CSV (streamed): state, attempts, last outcome, "
    "call id, duration, variables and extracted variables (JSON), cost of its calls",
)
async def results(ctx: ApiContext) -> StreamingResponse:
    campaign = await _campaign(ctx)
    return StreamingResponse(
        results_csv(ctx.db, ctx.caller.organization_id, campaign["id"],
                    ctx.services.settings.pricing), media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="campaign-{campaign["id"]}.csv"'},
    )  # fmt: skip
