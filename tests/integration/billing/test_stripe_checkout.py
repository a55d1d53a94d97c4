"""Stripe billing through the API: disabled without a key; Checkout changes the plan once
paid; one customer per organization even under concurrent first use; portal; invoices."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime

from db import billing_accounts as accounts_db
from server.billing import stripe_sync
from tests.integration.billing.conftest import (
    PRICES,
    deliver,
    org_plan,
    signup,
    subscribe,
)


async def test_without_a_key_every_billing_route_says_billing_disabled(client, make_user):
    user = await make_user()  # the default server: no STRIPE_API_KEY
    for method, path, body in (("POST", "/api/v1/billing/checkout", {"plan": "pro"}),
                               ("POST", "/api/v1/billing/portal", None),
                               ("GET", "/api/v1/billing/invoices", None)):  # fmt: skip
        r = await client.request(method, path, json=body, headers=user.headers)
        assert r.status_code == 409, (path, r.text)
        assert r.json()["error"]["code"] == "billing_disabled"
    r = await client.post("/webhooks/stripe", content=b"{}", headers={"Stripe-Signature": "t=1,v1=x"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "billing_disabled"


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def test_checkout_then_payment_changes_the_plan(http, billing_server, fake_stripe):
    headers, org = await signup(http)
    assert await org_plan(billing_server, org) == "free"
    assert await stripe_sync.subscription_of(billing_server.services.db, org) is None

    r = await http.post("/api/v1/billing/checkout", json={"plan": "pro"}, headers=headers)
    assert r.status_code == 201, r.text
    url = r.json()["url"]
    assert url.startswith("https://checkout.stripe.com/")
    stored = fake_stripe.state.sessions[r.json()["id"]]
    # subscription mode with the plan's base price (quantity 1) and its metered price
    assert stored["mode"] == "subscription"
    assert [(i["price"], i.get("quantity")) for i in stored["_line_items"]] == [
        (PRICES["pro"][0], "1"),
        (PRICES["pro"][1], None),
    ]
    assert stored["client_reference_id"] == str(org)
    customer = fake_stripe.state.customers[stored["customer"]]
    assert customer["metadata"] == {"organization_id": str(org)}
    # nothing changes before the payment completes
    assert await org_plan(billing_server, org) == "free"

    session = fake_stripe.complete_checkout(stored["id"])
    await deliver(http, billing_server, fake_stripe.event("checkout.session.completed", session))
    assert await org_plan(billing_server, org) == "pro"
    account = await accounts_db.get(billing_server.services.db, org)
    assert account["subscription_status"] == "active"
    assert account["price_id"] == PRICES["pro"][0]
    assert account["subscription_id"] == session["subscription"]
    assert account["current_period_start"] < account["current_period_end"]
    view = await stripe_sync.subscription_of(billing_server.services.db, org)
    assert (view.status, view.cancel_at_period_end) == ("active", False)
    assert view.current_period_end == account["current_period_end"]
    # GET /billing shows the subscription, and its period is the subscription's
    billing = (await http.get("/api/v1/billing", headers=headers)).json()
    assert billing["plan"]["name"] == "pro"
    assert billing["subscription"]["status"] == "active"
    assert billing["subscription"]["cancel_at_period_end"] is False
    assert _ts(billing["subscription"]["current_period_end"]) == account["current_period_end"]
    assert _ts(billing["period"]["start"]) == account["current_period_start"]
    assert _ts(billing["period"]["end"]) == account["current_period_end"]
    audit = await billing_server.services.db.fetch(
        "SELECT details FROM audit_log WHERE organization_id = $1 AND action = $2", org,
        "organization.plan_changed")  # fmt: skip
    assert [a["details"]["plan"] for a in audit] == ["pro"]

    # a second checkout is refused: plan changes go through the portal
    again = await http.post("/api/v1/billing/checkout", json={"plan": "scale"}, headers=headers)
    assert again.status_code == 409 and again.json()["error"]["code"] == "subscription_exists"

    portal = await http.post("/api/v1/billing/portal", headers=headers)
    assert portal.status_code == 201, portal.text
    assert portal.json()["url"].startswith("https://billing.stripe.com/")
    assert fake_stripe.state.portal_sessions[-1]["customer"] == stored["customer"]

    invoices = await http.get("/api/v1/billing/invoices", headers=headers)
    assert invoices.status_code == 200, invoices.text
    [invoice] = invoices.json()["data"]
    assert invoice["status"] == "paid" and invoice["amount_paid"] == 4900
    assert invoice["currency"] == "usd" and invoice["number"]
    assert invoice["hosted_invoice_url"].startswith("https://invoice.stripe.com/")
    assert invoice["period_start"] < invoice["period_end"]


async def test_concurrent_first_checkouts_create_one_customer(http, billing_server, fake_stripe):
    headers, org = await signup(http)
    first, second = await asyncio.gather(
        http.post("/api/v1/billing/checkout", json={"plan": "pro"}, headers=headers),
        http.post("/api/v1/billing/checkout", json={"plan": "pro"}, headers=headers),
    )
    assert first.status_code == second.status_code == 201, (first.text, second.text)
    mine = [c for c in fake_stripe.state.customers.values()
            if c["metadata"].get("organization_id") == str(org)]  # fmt: skip
    assert len(mine) == 1
    sessions = [fake_stripe.state.sessions[r.json()["id"]] for r in (first, second)]
    assert {s["customer"] for s in sessions} == {mine[0]["id"]}
    account = await accounts_db.get(billing_server.services.db, org)
    assert account["stripe_customer_id"] == mine[0]["id"]


async def test_checkout_refuses_plans_that_cannot_be_bought(http):
    headers, _ = await signup(http)
    for plan in ("suspended", "free", "nope"):  # not purchasable / no Stripe price / unknown
        r = await http.post("/api/v1/billing/checkout", json={"plan": plan}, headers=headers)
        assert r.status_code == 422, r.text
        assert r.json()["error"]["details"][0]["pointer"] == "/body/plan"


async def test_members_cannot_buy_or_open_the_portal(http, billing_server, fake_stripe):
    headers, org = await signup(http)
    email = f"m-{uuid.uuid4().hex[:8]}@example.com"
    invite = await http.post("/api/v1/organization/members", headers=headers,
                             json={"email": email, "role": "member"})  # fmt: skip
    assert invite.status_code == 202, invite.text
    r = await http.post("/api/v1/auth/signup", json={
        "email": email, "password": "correct horse battery",
        "invite_token": invite.json()["invite_token"]})  # fmt: skip
    assert r.status_code == 201, r.text
    member = {"Authorization": f"Bearer {r.json()['access_token']}"}
    for path in ("/api/v1/billing/checkout", "/api/v1/billing/portal"):
        body = {"plan": "pro"} if path.endswith("checkout") else None
        refused = await http.post(path, json=body, headers=member)
        assert refused.status_code == 403, refused.text
    assert (await http.get("/api/v1/billing/invoices", headers=member)).status_code == 403
    assert await accounts_db.get(billing_server.services.db, org) is None  # no customer made


async def test_subscribe_helper_paths_share_one_customer(http, billing_server, fake_stripe):
    headers, org = await signup(http)
    session = await subscribe(http, billing_server, fake_stripe, headers, org, "scale")
    account = await accounts_db.get(billing_server.services.db, org)
    assert account["stripe_customer_id"] == session["customer"]
    assert account["price_id"] == PRICES["scale"][0]
