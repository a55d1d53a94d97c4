"""Usage summaries: quantities by kind, provider and model, with their estimated cost (the
``PRICING`` unit prices, server/pricing.py); ``?format=csv`` streams the same as a download."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, Field
from starlette.responses import StreamingResponse

from db import usage as usage_db
from server.api import ApiContext, Router
from server.errors import bad_request
from server.pricing import UNIT, Pricing, add

router = Router(tags=["usage"])

MAX_RANGE_DAYS = 366
Kind = Literal["call_seconds", "stt_seconds", "llm_input_tokens", "llm_output_tokens",
               "tts_characters"]  # fmt: skip
GroupBy = Literal["day", "workflow", "call"]
CSV_COLUMNS = ("group", "kind", "provider", "model", "quantity", "unit", "cost", "currency")


class UsageQuery(BaseModel):
    from_: datetime | None = Field(
        default=None, alias="from", description="Start (inclusive); default 30 days ago"
    )
    to: datetime | None = Field(default=None, description="End (exclusive); default now")
    group_by: GroupBy = "day"
    format: Literal["json", "csv"] = Field(
        default="json", description="csv: a streamed text/csv download, one row per line"
    )


class UsageLine(BaseModel):
    kind: Kind
    provider: str
    model: str | None
    quantity: float
    cost: float = Field(description="Estimated cost in `currency` (0: no price for it)")


class UsageGroup(BaseModel):
    key: str = Field(description="YYYY-MM-DD (day), workflow id (workflow) or call id (call)")
    calls: int = Field(description="Calls with usage in this group")
    totals: dict[str, float] = Field(description="Quantity per kind, all providers")
    cost: float = Field(description="Estimated cost of the group")
    lines: list[UsageLine]


class UsageSummary(BaseModel):
    start: datetime
    end: datetime
    group_by: GroupBy
    currency: str = Field(description="Currency of every cost (the PRICING setting)")
    groups: list[UsageGroup]
    totals: dict[str, float]
    cost: float = Field(description="Estimated cost of the whole range")


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _range(q: UsageQuery) -> tuple[datetime, datetime]:
    end = _aware(q.to) if q.to else datetime.now(UTC)
    start = _aware(q.from_) if q.from_ else end - timedelta(days=30)
    if start >= end:
        raise bad_request("'from' must be before 'to'", "from")
    if end - start > timedelta(days=MAX_RANGE_DAYS):
        raise bad_request(f"the range may span at most {MAX_RANGE_DAYS} days", "from")
    return start, end


@router.get("/api/v1/usage", query=UsageQuery, response=UsageSummary, errors=[400],
            summary="Usage and its estimated cost per day, workflow or call, by provider",
            description="`format=csv` answers `text/csv` (an attachment) with the columns "
                        + ", ".join(CSV_COLUMNS) + ".")  # fmt: skip
async def usage_summary(ctx: ApiContext) -> UsageSummary | StreamingResponse:
    q: UsageQuery = ctx.query
    start, end = _range(q)
    org, pricing = ctx.caller.organization_id, ctx.services.settings.pricing
    if q.format == "csv":
        rows = usage_db.stream_summary(ctx.db, org, start=start, end=end, group_by=q.group_by)
        name = f"usage-{q.group_by}-{start:%Y%m%d}-{end:%Y%m%d}.csv"
        disposition = f'attachment; filename="{name}"'
        return StreamingResponse(
            _csv(rows, pricing),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": disposition},
        )
    rows = await usage_db.summary(ctx.db, org, start=start, end=end, group_by=q.group_by)
    groups: dict[str, UsageGroup] = {}
    totals: dict[str, float] = {}
    cost = 0.0
    for r in rows:
        group = groups.setdefault(r["grp"], UsageGroup(key=r["grp"], calls=0, totals={}, cost=0.0, lines=[]))
        qty, model = float(r["quantity"]), r["model"] or None
        line_cost = pricing.cost(r["kind"], r["provider"], model, qty)
        group.lines.append(UsageLine(kind=r["kind"], provider=r["provider"], model=model,
                                     quantity=qty, cost=line_cost))  # fmt: skip
        group.totals[r["kind"]] = group.totals.get(r["kind"], 0.0) + qty
        group.calls = max(group.calls, int(r["calls"]))
        group.cost = add(group.cost, line_cost)
        totals[r["kind"]] = totals.get(r["kind"], 0.0) + qty
        cost = add(cost, line_cost)
    return UsageSummary(start=start, end=end, group_by=q.group_by, currency=pricing.currency,
                        groups=list(groups.values()), totals=totals, cost=cost)  # fmt: skip


async def _csv(rows: AsyncIterator, pricing: Pricing) -> AsyncIterator[str]:
    """One CSV line per usage line, written as the database cursor yields them."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def line(values: tuple[object, ...]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(values)
        return buffer.getvalue()

    yield line(CSV_COLUMNS)
    async for r in rows:
        model, qty = r["model"] or None, float(r["quantity"])
        cost = pricing.cost(r["kind"], r["provider"], model, qty)
        yield line((r["grp"], r["kind"], _cell(r["provider"]), _cell(model or ""), f"{qty:g}",
                    UNIT[r["kind"]], f"{cost:.6f}", pricing.currency))  # fmt: skip


def _cell(value: str) -> str:
    """A text cell a spreadsheet will not run as a formula (CSV injection)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
