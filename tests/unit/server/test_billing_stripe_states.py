"""Stripe subscription states to plans, the subscription that decides, webhook parsing."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from server.billing import stripe_sync, stripe_webhooks
from server.billing.catalog import BUILTIN_PLANS, PlanCatalog
from server.billing.stripe_meter import ReconcileError, month_bounds
from server.errors import ApiError
from tests.fakes.stripe_server import signature

SECRET = "whsec_unit"
CATALOG = PlanCatalog({
    p.name: p.model_copy(update={"stripe_price_id": f"price_{p.name}",
                                 "stripe_metered_price_id": f"price_{p.name}_min"})
    if p.name in ("pro", "scale") else p
    for p in BUILTIN_PLANS
})  # fmt: skip
NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)


def account(status: str | None, price: str | None = "price_pro",
            past_due_since: datetime | None = None) -> dict[str, Any]:  # fmt: skip
    return {"subscription_status": status, "price_id": price, "past_due_since": past_due_since}


def target(acct: dict[str, Any], canceled: str = "free") -> str | None:
    return stripe_sync.target_plan(acct, CATALOG, grace_days=7, canceled_plan=canceled, now=NOW)


def test_states_map_to_plans():
    assert target(account("active")) == "pro"
    assert target(account("trialing", "price_scale")) == "scale"
    assert target(account("past_due", past_due_since=NOW - timedelta(days=6))) == "pro"
    assert target(account("past_due", past_due_since=NOW - timedelta(days=8))) == "suspended"
    for ended in ("canceled", "unpaid", "incomplete_expired", "paused"):
        assert target(account(ended)) == "free"
        assert target(account(ended), canceled="suspended") == "suspended"
    assert target(account("incomplete")) is None  # first payment pending: no change
    assert target(account(None, None)) is None  # never subscribed
    assert target(account("active", "price_unknown")) is None  # a price no plan names


def sub(ident: str, status: str, created: int, *prices: str) -> dict[str, Any]:
    return {"id": ident, "status": status, "created": created,
            "items": {"data": [{"price": {"id": p}} for p in prices]}}  # fmt: skip


def test_the_current_subscription_decides_and_its_base_price_names_the_plan():
    old_active = sub("sub_1", "active", 100, "price_pro_min", "price_pro")
    newer_canceled = sub("sub_2", "canceled", 200, "price_scale")
    assert stripe_sync.pick_subscription([newer_canceled, old_active]) is old_active
    assert stripe_sync.pick_subscription([newer_canceled]) is newer_canceled
    assert stripe_sync.pick_subscription([]) is None
    state = stripe_sync.state_of(old_active, CATALOG)
    assert (state.subscription_id, state.status, state.price_id) == ("sub_1", "active", "price_pro")


def event(**overrides: Any) -> dict[str, Any]:
    base = {"id": "evt_1", "object": "event", "type": "invoice.paid",
            "data": {"object": {"object": "invoice", "customer": "cus_1"}}}  # fmt: skip
    return {**base, **overrides}


def test_verify_accepts_stripes_scheme_and_refuses_the_rest():
    body = json.dumps(event()).encode()
    assert stripe_webhooks.verify(body, signature(body, SECRET), SECRET)["id"] == "evt_1"
    stale = signature(body, SECRET, int(time.time()) - 301)
    for header in (None, "", stale, signature(body, "whsec_other"), "t=1,v1=00"):
        with pytest.raises(ApiError) as err:
            stripe_webhooks.verify(body, header, SECRET)
        assert err.value.status == 400
    for bad in (event(id="in_1"), event(type="Bad Type!"), event(data={}), event(object="x")):
        raw = json.dumps(bad).encode()
        with pytest.raises(ApiError):
            stripe_webhooks.verify(raw, signature(raw, SECRET), SECRET)


def test_the_customer_of_an_event():
    assert stripe_webhooks.customer_of(event()) == "cus_1"
    expanded = event(data={"object": {"object": "subscription", "customer": {"id": "cus_2"}}})
    assert stripe_webhooks.customer_of(expanded) == "cus_2"
    customer = event(data={"object": {"object": "customer", "id": "cus_3"}})
    assert stripe_webhooks.customer_of(customer) == "cus_3"
    assert stripe_webhooks.customer_of(event(data={"object": {"object": "price"}})) is None


def test_month_bounds():
    assert month_bounds("2026-12") == (datetime(2026, 12, 1, tzinfo=UTC),
                                       datetime(2027, 1, 1, tzinfo=UTC))  # fmt: skip
    for bad in ("2026-13", "2026-1x", "26-01", ""):
        with pytest.raises(ReconcileError):
            month_bounds(bad)
