"""Call records: list (filters, cursor pages), one call with its turns (its recording:
``server/routes/call_recordings.py``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from db import call_search
from db import calls as calls_db
from db import usage as usage_db
from db.call_search import CallFilters
from db.calls import CallStatus
from pipeline.events import EndReason
from server.api import ApiContext, Router
from server.errors import not_found, unprocessable
from server.pagination import decode_cursor, encode_cursor
from server.pricing import COST_DIGITS

router = Router(tags=["calls"])


class LatencyOut(BaseModel):
    stt_final_ms: float | None = Field(description="End of speech → final transcript")
    agent_first_token_ms: float | None = Field(description="End of speech → first reply token")
    tts_first_audio_ms: float | None = Field(description="End of speech → first TTS audio")
    first_audio_out_ms: float | None = Field(description="End of speech → first audio sent")
    user_bot_ms: float | None = Field(description="pipecat's user→bot latency, for reference")


class TurnOut(BaseModel):
    index: int
    speaker: Literal["user", "agent", "tool"]
    text: str
    started_at: datetime
    ended_at: datetime
    interrupted: bool
    node: str | None
    tool: dict[str, Any] | None
    latency: LatencyOut | None

    @classmethod
    def of(cls, row: Any) -> TurnOut:
        latency = None
        if row["first_audio_out_ms"] is not None or row["agent_first_token_ms"] is not None:
            latency = LatencyOut(
                stt_final_ms=row["stt_final_ms"],
                agent_first_token_ms=row["agent_first_token_ms"],
                tts_first_audio_ms=row["tts_first_audio_ms"],
                first_audio_out_ms=row["first_audio_out_ms"],
                user_bot_ms=row["user_bot_ms"],
            )
        return cls(
            index=row["idx"], speaker=row["speaker"], text=row["text"],
            started_at=row["started_at"], ended_at=row["ended_at"],
            interrupted=row["interrupted"], node=row["node"], tool=row["tool"], latency=latency,
        )  # fmt: skip


class UsageOut(BaseModel):
    kind: str
    provider: str
    model: str | None
    quantity: float
    cost: float = Field(description="Estimated cost in the call's `currency` (PRICING)")


class EventOut(BaseModel):
    kind: str
    at: datetime
    data: dict[str, Any]


class CallOut(BaseModel):
    id: UUID
    workflow_id: UUID | None
    workflow_version: int | None
    channel: str
    direction: str
    from_number: str | None
    to_number: str | None
    status: CallStatus
    test: bool
    engine: str | None = Field(description="Agent engine (offline-scripted is not an LLM)")
    started_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None
    end_reason: str | None
    duration_seconds: float | None
    has_recording: bool
    variables: dict[str, Any]
    extracted: dict[str, Any] | None
    summary: str | None
    created_at: datetime
    trace_id: str | None = Field(
        default=None, description="The call's OpenTelemetry trace id (hex) when tracing is on"
    )
    language: str | None = Field(
        default=None, description="BCP-47 language the call ran in: the `language` of the "
        "outbound call or WebRTC offer, else the workflow's settings.language")

    @classmethod
    def of(cls, row: Any) -> CallOut:
        return cls(
            id=row["id"], workflow_id=row["workflow_id"],
            workflow_version=row["workflow_version"], channel=row["channel"],
            direction=row["direction"], from_number=row["from_number"],
            to_number=row["to_number"], status=row["status"], test=row["test"],
            engine=row["engine"], started_at=row["started_at"], answered_at=row["answered_at"],
            ended_at=row["ended_at"], end_reason=row["end_reason"],
            duration_seconds=row["duration_seconds"],
            has_recording=bool(row["recording_path"]), variables=row["variables"] or {},
            extracted=row["extracted"], summary=row["summary"], created_at=row["created_at"],
            trace_id=row["trace_id"], language=row.get("language"),
        )  # fmt: skip


class CallDetail(CallOut):
    turns: list[TurnOut]
    usage: list[UsageOut]
    events: list[EventOut]
    cost: float = Field(description="Estimated cost of the call's usage (0: not priced)")
    currency: str


class CallPage(BaseModel):
    items: list[CallOut]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page")


class CallListQuery(BaseModel):
    status: CallStatus | None = None
    workflow_id: UUID | None = None
    direction: Literal["inbound", "outbound", "browser"] | None = None
    number: str | None = Field(default=None, pattern=r"^\+?[0-9]{1,20}$",
                               description="Digits in the from or to number")  # fmt: skip
    end_reason: EndReason | None = None
    q: str | None = Field(default=None, min_length=1, max_length=200,
                          description="Search in the transcript: words, \"a phrase\", -not, or")  # fmt: skip
    from_: datetime | None = Field(default=None, alias="from", description="Created at or after")
    to: datetime | None = Field(default=None, description="Created before")
    limit: int = Field(default=20, ge=1, le=100)
    cursor: str | None = None


@router.get("/api/v1/calls", query=CallListQuery, response=CallPage,
            summary="List calls, newest first (filter by status, workflow, direction, number, "
                    "end reason, date; search in transcripts)")  # fmt: skip
async def list_calls(ctx: ApiContext) -> CallPage:
    q: CallListQuery = ctx.query
    if q.from_ and q.to and q.from_ >= q.to:
        raise unprocessable("query", "from", code="invalid_range", message="'from' must be before 'to'")
    filters = CallFilters(
        status=q.status, workflow_id=q.workflow_id, direction=q.direction, number=q.number,
        end_reason=q.end_reason, created_from=q.from_, created_to=q.to, text=q.q,
    )  # fmt: skip
    rows = await call_search.list_calls(
        ctx.db, ctx.caller.organization_id, filters, limit=q.limit + 1,
        before=decode_cursor(q.cursor) if q.cursor else None,
    )  # fmt: skip
    page = rows[: q.limit]
    cursor = encode_cursor(page[-1]) if len(rows) > q.limit else None
    return CallPage(items=[CallOut.of(r) for r in page], next_cursor=cursor)


@router.get("/api/v1/calls/{call_id:uuid}", response=CallDetail,
            summary="A call with its transcript turns, latency per turn, usage and events")  # fmt: skip
async def get_call(ctx: ApiContext) -> CallDetail:
    org, call_id = ctx.caller.organization_id, ctx.path["call_id"]
    row = await calls_db.get(ctx.db, org, call_id)
    if row is None:
        raise not_found("call")
    turns = await calls_db.list_turns(ctx.db, org, call_id)
    usage = await usage_db.for_call(ctx.db, org, call_id)
    events = await calls_db.list_events(ctx.db, org, call_id)
    pricing = ctx.services.settings.pricing
    lines = [
        UsageOut(kind=u["kind"], provider=u["provider"], model=u["model"] or None, quantity=u["quantity"],
                 cost=pricing.cost(u["kind"], u["provider"], u["model"] or None, u["quantity"]))
        for u in usage
    ]  # fmt: skip
    return CallDetail(
        **CallOut.of(row).model_dump(),
        turns=[TurnOut.of(t) for t in turns],
        usage=lines,
        events=[EventOut(kind=e["kind"], at=e["at"], data=e["data"] or {}) for e in events],
        cost=round(sum(u.cost for u in lines), COST_DIGITS),
        currency=pricing.currency,
    )
