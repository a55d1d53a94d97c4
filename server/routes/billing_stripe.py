"""Stripe billing routes: Checkout, the Customer Portal, invoices, and Stripe's webhook.

Without ``STRIPE_API_KEY`` every route here answers 409 ``billing_disabled`` (the webhook
also without ``STRIPE_WEBHOOK_SECRET``) and nothing reaches Stripe. Stripe failing or
unreachable is a 502 ``stripe_unavailable``. See docs/STRIPE.md.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import stripe
import structlog
from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from server.api import ApiContext, RawDoc, Router, read_limited_body
from server.billing import stripe_checkout, stripe_client, stripe_webhooks
from server.errors import ApiError, error_response, unprocessable

log = structlog.get_logger(__name__)
router = Router(tags=["billing"])


class CheckoutIn(BaseModel):
    plan: str = Field(min_length=1, max_length=32, description="The plan to subscribe to")


class RedirectOut(BaseModel):
    id: str = Field(description="Stripe's session id")
    url: str = Field(description="Send the browser here")


class InvoicesQuery(BaseModel):
    limit: int = Field(default=24, ge=1, le=100)


class InvoiceOut(BaseModel):
    id: str
    number: str | None
    status: str | None = Field(description="draft, open, paid, uncollectible or void")
    currency: str
    amount_due: int = Field(description="In the currency's smallest unit (cents)")
    amount_paid: int
    total: int
    period_start: datetime | None
    period_end: datetime | None
    created: datetime
    hosted_invoice_url: str | None


class InvoiceList(BaseModel):
    data: list[InvoiceOut]


def _base(ctx: ApiContext) -> str:
    return f"{ctx.request.url.scheme}://{ctx.request.url.netloc}"


def _org(ctx: ApiContext) -> UUID:
    return ctx.caller.organization_id


@router.post("/api/v1/billing/checkout", body=CheckoutIn, response=RedirectOut, status=201,
             errors=[409, 502],
             summary="Start a Stripe Checkout for a plan (returns the page to send the "
                     "browser to)")  # fmt: skip
async def create_checkout(ctx: ApiContext) -> RedirectOut:
    stripe_client.require(ctx.services)
    try:
        session = await stripe_checkout.checkout(ctx.services, _org(ctx), ctx.body.plan,
                                                 base_url=_base(ctx))  # fmt: skip
    except stripe_checkout.PlanNotPurchasable:
        raise unprocessable("body", "plan", code="plan_not_purchasable",
                            message="no plan of that name can be bought") from None  # fmt: skip
    except stripe_checkout.SubscriptionExists as exc:
        raise ApiError(409, "subscription_exists",
                       f"the organization already has a subscription ({exc}): change it in "
                       "the billing portal") from None  # fmt: skip
    except stripe.StripeError as exc:
        log.warning("stripe_checkout_failed", error=str(exc)[:300])
        raise stripe_client.stripe_unavailable(exc) from None
    return RedirectOut(id=session.id, url=session.url)


@router.post("/api/v1/billing/portal", response=RedirectOut, status=201, errors=[409, 502],
             summary="Open the Stripe Customer Portal (plan, payment method, invoices)")  # fmt: skip
async def create_portal(ctx: ApiContext) -> RedirectOut:
    stripe_client.require(ctx.services)
    try:
        session = await stripe_checkout.portal(ctx.services, _org(ctx), base_url=_base(ctx))
    except stripe.StripeError as exc:
        log.warning("stripe_portal_failed", error=str(exc)[:300])
        raise stripe_client.stripe_unavailable(exc) from None
    return RedirectOut(id=session.id, url=session.url)


@router.get("/api/v1/billing/invoices", query=InvoicesQuery, response=InvoiceList,
            errors=[409, 502], summary="The organization's invoices at Stripe, newest first")  # fmt: skip
async def list_invoices(ctx: ApiContext) -> InvoiceList:
    stripe_client.require(ctx.services)
    try:
        found = await stripe_checkout.invoices(ctx.services, _org(ctx), limit=ctx.query.limit)
    except stripe.StripeError as exc:
        log.warning("stripe_invoices_failed", error=str(exc)[:300])
        raise stripe_client.stripe_unavailable(exc) from None
    return InvoiceList(data=[InvoiceOut(**{k: getattr(i, k) for k in InvoiceOut.model_fields})
                             for i in found])  # fmt: skip


async def stripe_webhook(request: Request) -> Response:
    services = request.app.state.services
    settings = services.settings
    if not stripe_client.billing_enabled(settings) or settings.stripe_webhook_secret is None:
        return error_response(stripe_client.disabled_error())
    try:
        body = await read_limited_body(request, min(settings.max_body_bytes,
                                                    stripe_webhooks.MAX_BODY_BYTES))  # fmt: skip
        received = await stripe_webhooks.receive(services, body,
                                                 request.headers.get("stripe-signature"))  # fmt: skip
    except ApiError as exc:
        if exc.status == 400:
            log.warning("stripe_webhook_refused", code=exc.code)
        return error_response(exc)
    return JSONResponse({"received": True, "event_id": received.event_id,
                         "duplicate": received.duplicate})  # fmt: skip


router.raw_route(
    "/webhooks/stripe", stripe_webhook, methods=["POST"],
    doc=RawDoc("POST", "/webhooks/stripe", "Stripe webhook events",
               description="Verified with STRIPE_WEBHOOK_SECRET (Stripe-Signature, 300 s "
               "tolerance), stored by event id (a duplicate is a 200 that does nothing) and "
               "processed by the job queue.",
               tags=["billing"],
               responses={"200": "Stored (or a duplicate)", "400": "Bad or expired signature, "
                          "or not an event", "409": "Billing disabled", "413": "Body too large",
                          "422": "A NUL character in the event"}),
)  # fmt: skip
