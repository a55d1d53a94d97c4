"""An organization's Stripe customer (created lazily), Checkout, the Customer Portal and
its invoices. Routes call these; each answers with what the route returns or raises."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

import stripe
import structlog

from db import billing_accounts as accounts_db
from db import organizations as orgs_db
from server.billing import stripe_client

if TYPE_CHECKING:
    from server.services import Services

log = structlog.get_logger(__name__)

# Subscriptions in these states already exist: a plan change goes through the portal.
CURRENT_STATES = frozenset({"active", "trialing", "past_due", "incomplete"})


class PlanNotPurchasable(ValueError):
    """The plan does not exist, cannot be bought, or has no Stripe price."""


class SubscriptionExists(Exception):
    """The organization already has a subscription (change it in the portal)."""


def customer_idempotency_key(organization_id: UUID) -> str:
    return f"switchboard-customer-{organization_id}"


async def ensure_customer(services: Services, organization_id: UUID) -> str:
    """The organization's Stripe customer id, created on first use.

    Race-safe: concurrent first uses send the same idempotency key, so Stripe creates one
    customer and answers every request with it; the first id stored wins either way."""
    account = await accounts_db.get(services.db, organization_id)
    if account is not None:
        return str(account["stripe_customer_id"])
    org = await orgs_db.get(services.db, organization_id)
    if org is None:
        raise LookupError(f"no organization {organization_id}")
    client = stripe_client.client(services)
    params: dict[str, Any] = {
        "name": org["name"],
        "metadata": {"organization_id": str(organization_id)},
    }
    options: dict[str, Any] = {"idempotency_key": customer_idempotency_key(organization_id)}
    for attempt in range(3):
        try:
            customer = await client.v1.customers.create_async(params, options)  # type: ignore[arg-type]
            break
        except stripe.IdempotencyError:  # the same key is in flight: wait for it
            if attempt == 2:
                raise
            await asyncio.sleep(0.5 * (attempt + 1))
    return await accounts_db.attach_customer(services.db, organization_id, customer.id)


def _urls(services: Services, base: str) -> tuple[str, str, str]:
    settings = services.settings
    console = settings.public_base_url(base) + "/console/"
    return (
        settings.billing_checkout_success_url or console + "?billing=success",
        settings.billing_checkout_cancel_url or console + "?billing=canceled",
        settings.billing_portal_return_url or console,
    )


@dataclass(frozen=True, slots=True)
class RedirectSession:
    id: str
    url: str


async def checkout(services: Services, organization_id: UUID, plan_name: str, *,
                   base_url: str) -> RedirectSession:  # fmt: skip
    """A Checkout Session (subscription mode) for the plan's base and metered prices."""
    plan = services.plans.find(plan_name)
    if plan is None or not plan.purchasable or not plan.allows_calls or not plan.stripe_price_id:
        raise PlanNotPurchasable(plan_name)
    client = stripe_client.client(services)
    account = await accounts_db.get(services.db, organization_id)
    if account is not None and account["subscription_status"] in CURRENT_STATES:
        raise SubscriptionExists(account["subscription_status"])
    customer = await ensure_customer(services, organization_id)
    items: list[dict[str, Any]] = [{"price": plan.stripe_price_id, "quantity": 1}]
    if plan.stripe_metered_price_id:
        items.append({"price": plan.stripe_metered_price_id})  # metered: no quantity
    success, cancel, _ = _urls(services, base_url)
    metadata = {"organization_id": str(organization_id), "plan": plan.name}
    session = await client.v1.checkout.sessions.create_async(
        {
            "mode": "subscription",
            "customer": customer,
            "client_reference_id": str(organization_id),
            "line_items": items,
            "success_url": success,
            "cancel_url": cancel,
            "metadata": metadata,
            "subscription_data": {"metadata": metadata},
        }
    )  # type: ignore[arg-type]
    return RedirectSession(id=session.id, url=str(session.url))


async def portal(services: Services, organization_id: UUID, *, base_url: str
                 ) -> RedirectSession:  # fmt: skip
    """A Customer Portal session (change plan, payment method, cancel, invoices)."""
    client = stripe_client.client(services)
    customer = await ensure_customer(services, organization_id)
    session = await client.v1.billing_portal.sessions.create_async(
        {"customer": customer, "return_url": _urls(services, base_url)[2]}
    )
    return RedirectSession(id=session.id, url=str(session.url))


@dataclass(frozen=True, slots=True)
class Invoice:
    id: str
    number: str | None
    status: str | None
    currency: str
    amount_due: int
    amount_paid: int
    total: int
    period_start: datetime | None
    period_end: datetime | None
    created: datetime
    hosted_invoice_url: str | None


def _at(value: Any) -> datetime | None:
    return datetime.fromtimestamp(int(value), UTC) if value is not None else None


async def invoices(services: Services, organization_id: UUID, *, limit: int) -> list[Invoice]:
    """The organization's invoices at Stripe, newest first (none before a customer exists)."""
    client = stripe_client.client(services)
    account = await accounts_db.get(services.db, organization_id)
    if account is None:
        return []
    found = await client.v1.invoices.list_async({"customer": account["stripe_customer_id"], "limit": limit})
    out = []
    for inv in found.data:
        raw = inv.to_dict()
        out.append(Invoice(
            id=raw["id"], number=raw.get("number"), status=raw.get("status"),
            currency=str(raw.get("currency") or ""), amount_due=int(raw.get("amount_due") or 0),
            amount_paid=int(raw.get("amount_paid") or 0), total=int(raw.get("total") or 0),
            period_start=_at(raw.get("period_start")), period_end=_at(raw.get("period_end")),
            created=_at(raw.get("created")) or datetime.now(UTC),
            hosted_invoice_url=raw.get("hosted_invoice_url"),
        ))  # fmt: skip
    return out
