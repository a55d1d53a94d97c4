"""Subscription state from Stripe to the organization's plan.

Handlers never trust an event's order or its payload's state: whatever the event, they read
the customer's subscriptions from Stripe now and apply what they find (events arrive out of
order and twice; the last read wins and is always the current truth).

States: ``active``/``trialing`` -> the plan of the subscription's price
(``PlanCatalog.by_stripe_price``); ``past_due`` -> that plan for
``BILLING_PAST_DUE_GRACE_DAYS`` from when it turned past due, then ``suspended`` (also
checked periodically: ``suspend_past_grace``); ``canceled``/``unpaid``/``incomplete_expired``/
``paused`` -> ``BILLING_CANCELED_PLAN``; ``incomplete`` (first payment pending) changes
nothing. Every change goes through ``change_plan`` (audited).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

import structlog

from db import billing as billing_db
from db import billing_accounts as accounts_db
from db import organizations as orgs_db
from db.billing_accounts import SubscriptionState
from server.billing import stripe_client
from server.billing.plans import change_plan

if TYPE_CHECKING:
    import asyncpg

    from server.billing.catalog import PlanCatalog
    from server.services import Services

log = structlog.get_logger(__name__)

LIVE = frozenset({"active", "trialing"})
ENDED = frozenset({"canceled", "unpaid", "incomplete_expired", "paused"})
SUSPENDED_PLAN = "suspended"
# the subscription that decides, when a customer has several: a current one, newest first
_PREFERENCE = {"active": 0, "trialing": 0, "past_due": 1, "incomplete": 2}


def pick_subscription(subscriptions: list[dict[str, Any]]) -> dict[str, Any] | None:
    if not subscriptions:
        return None
    return min(subscriptions, key=lambda s: (_PREFERENCE.get(s.get("status", ""), 9),
                                             -int(s.get("created") or 0)))  # fmt: skip


def base_price(subscription: dict[str, Any], catalog: PlanCatalog) -> str | None:
    """The subscription's base price: the item whose price is a plan's ``stripe_price_id``
    (else the first item's price, so an unknown price is still recorded)."""
    prices = [str(item["price"]["id"]) for item in subscription.get("items", {}).get("data", [])
              if isinstance(item.get("price"), dict)]  # fmt: skip
    for price in prices:
        plan = catalog.by_stripe_price(price)
        if plan is not None and plan.stripe_price_id == price:
            return price
    return prices[0] if prices else None


def _period(subscription: dict[str, Any], name: str, pick: Any) -> datetime | None:
    value = subscription.get(name)
    if value is None:  # newer API versions keep the period on the items
        values = [i.get(name) for i in subscription.get("items", {}).get("data", [])]
        value = pick((v for v in values if v is not None), default=None)
    return datetime.fromtimestamp(int(value), UTC) if value else None


def state_of(subscription: dict[str, Any] | None, catalog: PlanCatalog) -> SubscriptionState:
    if subscription is None:
        return SubscriptionState(None, None, None, None, None, False)
    return SubscriptionState(
        subscription_id=str(subscription["id"]),
        status=str(subscription.get("status")),
        price_id=base_price(subscription, catalog),
        current_period_start=_period(subscription, "current_period_start", min),
        current_period_end=_period(subscription, "current_period_end", max),
        cancel_at_period_end=bool(subscription.get("cancel_at_period_end")),
    )


async def subscription_of(pool: asyncpg.Pool, organization_id: UUID) -> SubscriptionState | None:
    """The organization's subscription as last read from Stripe (None: it never had one).
    For ``GET /api/v1/billing``'s ``subscription``."""
    account = await accounts_db.get(pool, organization_id)
    if account is None or account["subscription_status"] is None:
        return None
    return SubscriptionState(
        subscription_id=account["subscription_id"],
        status=account["subscription_status"],
        price_id=account["price_id"],
        current_period_start=account["current_period_start"],
        current_period_end=account["current_period_end"],
        cancel_at_period_end=account["cancel_at_period_end"],
    )


def target_plan(account: Any, catalog: PlanCatalog, *, grace_days: int, canceled_plan: str,
                now: datetime | None = None) -> str | None:  # fmt: skip
    """The plan the account's subscription state entitles to; None: leave the plan alone."""
    status = account["subscription_status"]
    price = account["price_id"]
    plan = catalog.by_stripe_price(price) if price else None
    if status in LIVE:
        return plan.name if plan else None
    if status == "past_due":
        since = account["past_due_since"] or datetime.now(UTC)
        if (now or datetime.now(UTC)) - since < timedelta(days=grace_days):
            return plan.name if plan else None
        return SUSPENDED_PLAN
    if status in ENDED:
        return canceled_plan
    return None


async def apply_plan(services: Services, organization_id: UUID, plan: str | None) -> bool:
    """Move the organization to ``plan`` (audited) when it is elsewhere; True if it moved."""
    if plan is None:
        return False
    org = await orgs_db.get(services.db, organization_id)
    if org is None or org["plan"] == plan:
        return False
    await change_plan(services.db, organization_id, plan, catalog=services.plans)
    log.info("billing_plan_changed", organization_id=str(organization_id), plan=plan,
             previous=org["plan"])  # fmt: skip
    return True


async def sync_customer(services: Services, customer_id: str) -> asyncpg.Record | None:
    """Read the customer's subscriptions from Stripe and apply the current one. Returns the
    updated billing account (None: the customer is no organization's)."""
    organization_id = await accounts_db.organization_of_customer(services.db, customer_id)
    if organization_id is None:
        log.info("stripe_customer_unknown", customer=customer_id)
        return None
    client = stripe_client.client(services)
    found = await client.v1.subscriptions.list_async({"customer": customer_id, "status": "all", "limit": 100})
    subscriptions = [s.to_dict() for s in found.data]
    state = state_of(pick_subscription(subscriptions), services.plans)
    account = await accounts_db.set_subscription(services.db, organization_id, state)
    if account is None:
        return None
    # the organization's billing period follows the live subscription's (calendar months
    # again once it has none), so included minutes reset when Stripe invoices
    live = account["subscription_status"] in LIVE or account["subscription_status"] == "past_due"
    await billing_db.set_billing_period(
        services.db, organization_id,
        account["current_period_start"] if live else None,
        account["current_period_end"] if live else None,
    )  # fmt: skip
    settings = services.settings
    await apply_plan(services, organization_id, target_plan(
        account, services.plans, grace_days=settings.billing_past_due_grace_days,
        canceled_plan=settings.billing_canceled_plan))  # fmt: skip
    return account


async def suspend_past_grace(services: Services) -> int:
    """Periodic: suspend organizations past due for longer than the grace period."""
    if not stripe_client.billing_enabled(services.settings):
        return 0
    moved = 0
    for account in await accounts_db.past_due_beyond(
            services.db, services.settings.billing_past_due_grace_days):  # fmt: skip
        moved += await apply_plan(services, account["organization_id"], SUSPENDED_PLAN)
    return moved
