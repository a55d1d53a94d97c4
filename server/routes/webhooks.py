"""Customer webhooks: register URLs for call events; deliveries are signed and retried."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import AnyHttpUrl, BaseModel, Field

from db import webhooks as webhooks_db
from runtime.egress import EgressRefused, UnresolvableHost
from server.api import ApiContext, Router
from server.errors import ApiError, detail, not_found

router = Router(tags=["webhooks"])

Event = Literal["call.ended", "call.analyzed", "usage.threshold", "campaign.started",
                "campaign.completed", "campaign.contact_completed"]
SIGNING = (
    "Each delivery is a JSON POST {id, type, created_at, organization_id, data} with headers "
    "X-Switchboard-Timestamp (unix seconds) and X-Switchboard-Signature: "
    "v1=hex(HMAC-SHA256(secret, timestamp + '.' + raw body)). Non-2xx answers are retried "
    "with exponential backoff (8 attempts); every attempt is recorded."
)


class WebhookIn(BaseModel):
    url: AnyHttpUrl
    events: list[Event] = Field(min_length=1)
    description: str = Field(default="", max_length=500)
    secret: str | None = Field(default=None, min_length=16, max_length=200,
                               description="Signing secret; omitted: one is generated")


class WebhookPatch(BaseModel):
    url: AnyHttpUrl | None = None
    events: list[Event] | None = Field(default=None, min_length=1)
    description: str | None = Field(default=None, max_length=500)
    active: bool | None = None
    rotate_secret: bool = Field(default=False, description="Issue a new signing secret")


class WebhookOut(BaseModel):
    id: UUID
    url: str
    events: list[str]
    description: str
    active: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: Any) -> WebhookOut:
        return cls(**{k: row[k] for k in cls.model_fields})


class WebhookSecretOut(WebhookOut):
    secret: str = Field(description="The signing secret; shown only in this response")


class AttemptOut(BaseModel):
    attempt: int
    status_code: int | None
    error: str | None
    duration_ms: int
    at: datetime


class DeliveryOut(BaseModel):
    id: UUID
    event: str
    status: Literal["pending", "delivered", "failed"]
    attempts: list[AttemptOut]
    payload: dict[str, Any]
    created_at: datetime
    delivered_at: datetime | None


async def _check_url(ctx: ApiContext, url: str) -> None:
    """Early feedback: a URL on a non-public address is a 422 (each delivery checks again;
    a name that does not resolve yet is accepted)."""
    try:
        await ctx.services.egress.check_url(url)
    except UnresolvableHost:
        return
    except EgressRefused as exc:
        raise ApiError(422, "validation_error", str(exc),
                       detail("body", "url", code="destination_refused",
                              message=str(exc))) from None


@router.post("/api/v1/webhooks", body=WebhookIn, response=WebhookSecretOut, status=201,
             role="admin",
             summary="Register a webhook for call.ended / call.analyzed / usage.threshold events; "
                     "the signing secret is returned once. " + SIGNING)
async def create_webhook(ctx: ApiContext) -> WebhookSecretOut:
    body: WebhookIn = ctx.body
    await _check_url(ctx, str(body.url))
    secret = body.secret or "whsec_" + secrets.token_urlsafe(32)
    row = await webhooks_db.create(
        ctx.db, ctx.caller.organization_id, url=str(body.url), events=sorted(set(body.events)),
        description=body.description, secret_ciphertext=ctx.services.secret_box.encrypt(secret),
    )
    return WebhookSecretOut(**WebhookOut.of(row).model_dump(), secret=secret)


@router.get("/api/v1/webhooks", response=list[WebhookOut], role="admin",
            summary="List the organization's webhooks (secrets are never returned)")
async def list_webhooks(ctx: ApiContext) -> list[WebhookOut]:
    rows = await webhooks_db.list_for_org(ctx.db, ctx.caller.organization_id)
    return [WebhookOut.of(r) for r in rows]


@router.get("/api/v1/webhooks/{webhook_id:uuid}", response=WebhookOut, role="admin",
            summary="Get a webhook")
async def get_webhook(ctx: ApiContext) -> WebhookOut:
    row = await webhooks_db.get(ctx.db, ctx.caller.organization_id, ctx.path["webhook_id"])
    if row is None:
        raise not_found("webhook")
    return WebhookOut.of(row)


@router.patch("/api/v1/webhooks/{webhook_id:uuid}", body=WebhookPatch, response=WebhookOut,
              role="admin",
              summary="Change a webhook's URL, events, description or active flag; with "
                      "rotate_secret the response carries the new secret (once)")
async def update_webhook(ctx: ApiContext) -> WebhookOut:
    body: WebhookPatch = ctx.body
    if body.url:
        await _check_url(ctx, str(body.url))
    secret = "whsec_" + secrets.token_urlsafe(32) if body.rotate_secret else None
    row = await webhooks_db.update(
        ctx.db, ctx.caller.organization_id, ctx.path["webhook_id"],
        url=str(body.url) if body.url else None,
        events=sorted(set(body.events)) if body.events else None,
        description=body.description, active=body.active,
        secret_ciphertext=ctx.services.secret_box.encrypt(secret) if secret else None,
    )
    if row is None:
        raise not_found("webhook")
    if secret:
        return WebhookSecretOut(**WebhookOut.of(row).model_dump(), secret=secret)
    return WebhookOut.of(row)


@router.delete("/api/v1/webhooks/{webhook_id:uuid}", role="admin", status=204,
               summary="Delete a webhook; pending deliveries are dropped")
async def delete_webhook(ctx: ApiContext) -> None:
    if not await webhooks_db.delete(ctx.db, ctx.caller.organization_id, ctx.path["webhook_id"]):
        raise not_found("webhook")


@router.get("/api/v1/webhooks/{webhook_id:uuid}/deliveries", response=list[DeliveryOut],
            role="admin",
            summary="Recent deliveries of a webhook, newest first, each with every attempt "
                    "(status code or error, duration)")
async def list_deliveries(ctx: ApiContext) -> list[DeliveryOut]:
    org, hook_id = ctx.caller.organization_id, ctx.path["webhook_id"]
    if await webhooks_db.get(ctx.db, org, hook_id) is None:
        raise not_found("webhook")
    rows = await webhooks_db.list_deliveries(ctx.db, org, hook_id)
    return [
        DeliveryOut(id=r["id"], event=r["event"], status=r["status"], payload=r["payload"],
                    attempts=[AttemptOut(**a) for a in r["attempt_log"]],
                    created_at=r["created_at"], delivered_at=r["delivered_at"])
        for r in rows
    ]
