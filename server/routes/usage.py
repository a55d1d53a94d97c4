"""Usage summaries: billable seconds, STT seconds, LLM tokens, TTS characters by provider."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, Field

from db import usage as usage_db
from server.api import ApiContext, Router
from server.errors import bad_request

router = Router(tags=["usage"])

MAX_RANGE_DAYS = 366


class UsageQuery(BaseModel):
    from_: datetime | None = Field(
        default=None, alias="from", description="Start (inclusive); default 30 days ago"
    )
    to: datetime | None = Field(default=None, description="End (exclusive); default now")
    group_by: Literal["day", "workflow"] = "day"


class UsageLine(BaseModel):
    kind: Literal["call_seconds", "stt_seconds", "llm_input_tokens", "llm_output_tokens",
                  "tts_characters"]  # fmt: skip
    provider: str
    quantity: float


class UsageGroup(BaseModel):
    key: str = Field(description="YYYY-MM-DD (group_by=day) or workflow id (group_by=workflow)")
    calls: int = Field(description="Calls with usage in this group")
    totals: dict[str, float] = Field(description="Quantity per kind, all providers")
    lines: list[UsageLine]


class UsageSummary(BaseModel):
    start: datetime
    end: datetime
    group_by: Literal["day", "workflow"]
    groups: list[UsageGroup]
    totals: dict[str, float]


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@router.get("/api/v1/usage", query=UsageQuery, response=UsageSummary, errors=[400],
            summary="Usage per day or per workflow, by kind and provider")  # fmt: skip
async def usage_summary(ctx: ApiContext) -> UsageSummary:
    q: UsageQuery = ctx.query
    end = _aware(q.to) if q.to else datetime.now(UTC)
    start = _aware(q.from_) if q.from_ else end - timedelta(days=30)
    if start >= end:
        raise bad_request("'from' must be before 'to'", "from")
    if end - start > timedelta(days=MAX_RANGE_DAYS):
        raise bad_request(f"the range may span at most {MAX_RANGE_DAYS} days", "from")
    rows = await usage_db.summary(
        ctx.db, ctx.caller.organization_id, start=start, end=end, group_by=q.group_by
    )
    groups: dict[str, UsageGroup] = {}
    totals: dict[str, float] = {}
    for r in rows:
        group = groups.setdefault(r["grp"], UsageGroup(key=r["grp"], calls=0, totals={}, lines=[]))
        qty = float(r["quantity"])
        group.lines.append(UsageLine(kind=r["kind"], provider=r["provider"], quantity=qty))
        group.totals[r["kind"]] = group.totals.get(r["kind"], 0.0) + qty
        group.calls = max(group.calls, int(r["calls"]))
        totals[r["kind"]] = totals.get(r["kind"], 0.0) + qty
    return UsageSummary(start=start, end=end, group_by=q.group_by, groups=list(groups.values()),
                        totals=totals)  # fmt: skip
