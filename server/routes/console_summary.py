"""The console's home numbers in one request: ``GET /api/v1/console/summary``.

Scoped to the caller's organization (from the token; no organization in the query), readable
by every role. Minutes are billable call seconds of the current calendar month (UTC).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, Field

from db import console_summary as summary_db
from db import organizations as orgs_db
from server.api import ApiContext, Router

router = Router(tags=["console"])


class SummaryOut(BaseModel):
    calls_today: int = Field(description="Calls started since 00:00 UTC")
    failed_today: int = Field(description="Of those, calls that failed")
    live_calls: int = Field(description="Calls not yet ended (started in the last 24 h)")
    minutes_this_period: float = Field(description="Call minutes since the 1st of the month, UTC")
    period_start: datetime
    plan: str | None
    voice_to_voice_p50_ms: float | None = Field(description="Last 24 h, end of speech → first audio out")
    voice_to_voice_p95_ms: float | None
    voice_to_voice_turns: int = Field(description="Agent turns the percentiles are computed from")


@router.get("/api/v1/console/summary", response=SummaryOut,
            summary="Home numbers: calls today, failures, live calls, minutes this month, "
                    "p50/p95 voice-to-voice latency of the last 24 hours")  # fmt: skip
async def console_summary(ctx: ApiContext) -> SummaryOut:
    org = ctx.caller.organization_id
    now = datetime.now(UTC)
    day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    period_start = day_start.replace(day=1)
    counts = await summary_db.call_counts(ctx.db, org, day_start=day_start,
                                          period_start=period_start)  # fmt: skip
    v2v = await summary_db.voice_to_voice(ctx.db, org, since=now - timedelta(hours=24))
    organization = await orgs_db.get(ctx.db, org)
    return SummaryOut(
        calls_today=counts["calls_today"], failed_today=counts["failed_today"],
        live_calls=counts["live"], minutes_this_period=float(counts["seconds_period"]) / 60,
        period_start=period_start, plan=organization["plan"] if organization else None,
        voice_to_voice_p50_ms=v2v["p50"], voice_to_voice_p95_ms=v2v["p95"],
        voice_to_voice_turns=v2v["turns"],
    )  # fmt: skip
