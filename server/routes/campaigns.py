"""Campaigns: create, list, progress, start/pause/resume/cancel (docs/CAMPAIGNS.md)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field

from db import campaigns as campaigns_db
from server.api import ApiContext, Router
from server.calls.phone.carriers import public_base
from server.campaigns import control
from server.campaigns.models import (
    CampaignConfig,
    CampaignIn,
    CampaignSchedule,
    CampaignState,
    RetryPolicy,
    VoicemailPolicy,
)
from server.campaigns.progress import progress
from server.errors import not_found
from server.pagination import decode_cursor, encode_cursor

router = Router(tags=["campaigns"])


class ProgressOut(BaseModel):
    contacts: int
    states: dict[str, int] = Field(description="Contacts per state")
    attempts: int
    answered: int = Field(description="Attempts a person answered")
    answer_rate: float | None = Field(description="answered / attempts ended")
    minutes: float = Field(description="Call minutes so far")
    cost: float = Field(description="Estimated cost of the campaign's calls so far (PRICING: "
                                    "carrier minutes, speech, LLM; 0 when nothing is priced)")
    currency: str = Field(description="Currency of cost (the PRICING setting)")
    eta_seconds: float | None = Field(description="At the pace so far (running campaigns)")


class CampaignOut(BaseModel):
    id: UUID
    name: str
    workflow_id: UUID
    state: CampaignState
    caller_ids: list[str]
    max_concurrent_calls: int
    calls_per_minute: int
    schedule: CampaignSchedule
    retry: RetryPolicy
    voicemail: VoicemailPolicy
    variables: dict[str, str]
    required_variables: list[str]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    progress: ProgressOut | None = Field(default=None, description="GET of one campaign")

    @classmethod
    def of(cls, row: Any, prog: Any = None) -> CampaignOut:
        config = CampaignConfig.model_validate(row["config"])
        return cls(
            id=row["id"], name=row["name"], workflow_id=row["workflow_id"], state=row["state"],
            caller_ids=list(row["caller_ids"]), max_concurrent_calls=row["max_concurrent_calls"],
            calls_per_minute=row["calls_per_minute"], schedule=config.schedule,
            retry=config.retry, voicemail=config.voicemail, variables=config.variables,
            required_variables=config.required_variables, created_at=row["created_at"],
            started_at=row["started_at"], finished_at=row["finished_at"],
            progress=ProgressOut(**asdict(prog)) if prog is not None else None,
        )  # fmt: skip


class CampaignPage(BaseModel):
    items: list[CampaignOut]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page")


class CampaignListQuery(BaseModel):
    limit: int = Field(default=20, ge=1, le=100)
    cursor: str | None = None


_PATH = "/api/v1/campaigns/{campaign_id:uuid}"


@router.post(
    "/api/v1/campaigns",
    body=CampaignIn,
    response=CampaignOut,
    status=201,
    errors=[403],
    summary="Create a campaign (draft): workflow, caller ids, schedule and calling "
    "windows, pacing, retry and voicemail policies, shared variables",
)
async def create_campaign(ctx: ApiContext) -> CampaignOut:
    row = await control.create(ctx.services, ctx.caller.organization_id, ctx.body)
    return CampaignOut.of(row)


@router.get(
    "/api/v1/campaigns",
    errors=[400],
    query=CampaignListQuery,
    response=CampaignPage,
    summary="The organization's campaigns, newest first",
)
async def list_campaigns(ctx: ApiContext) -> CampaignPage:
    q: CampaignListQuery = ctx.query
    rows = await campaigns_db.list_for_org(ctx.db, ctx.caller.organization_id, limit=q.limit + 1,
                                           before=decode_cursor(q.cursor) if q.cursor else None)  # fmt: skip
    page = rows[: q.limit]
    cursor = encode_cursor(page[-1]) if len(rows) > q.limit else None
    return CampaignPage(items=[CampaignOut.of(r) for r in page], next_cursor=cursor)


@router.get(
    _PATH,
    response=CampaignOut,
    summary="A campaign with its progress: contacts per state, attempts, answer rate, minutes, ETA",
)
async def get_campaign(ctx: ApiContext) -> CampaignOut:
    row = await campaigns_db.get(ctx.db, ctx.caller.organization_id, ctx.path["campaign_id"])
    if row is None:
        raise not_found("campaign")
    return CampaignOut.of(row, await progress(ctx.db, row, ctx.services.settings.pricing))


async def _act(ctx: ApiContext, action: str) -> CampaignOut:
    base = public_base(ctx.services, f"{ctx.request.url.scheme}://{ctx.request.url.netloc}")
    row = await control.change_state(ctx.services, ctx.caller.organization_id,
                                     ctx.path["campaign_id"], action, base)  # fmt: skip
    return CampaignOut.of(row)


@router.post(
    f"{_PATH}/start", response=CampaignOut, errors=[403, 409],
    summary="Start dialing (a draft with contacts)",
)
async def start_campaign(ctx: ApiContext) -> CampaignOut:
    return await _act(ctx, "start")


@router.post(
    f"{_PATH}/pause",
    response=CampaignOut,
    errors=[409],
    summary="Pause: no new dial (calls in progress finish)",
)
async def pause_campaign(ctx: ApiContext) -> CampaignOut:
    return await _act(ctx, "pause")


@router.post(f"{_PATH}/resume", response=CampaignOut, errors=[409], summary="Resume a paused campaign")
async def resume_campaign(ctx: ApiContext) -> CampaignOut:
    return await _act(ctx, "resume")


@router.post(
    f"{_PATH}/cancel",
    response=CampaignOut,
    errors=[409],
    summary="Cancel: pending contacts become canceled (calls in progress finish)",
)
async def cancel_campaign(ctx: ApiContext) -> CampaignOut:
    return await _act(ctx, "cancel")
