"""Stripe webhooks: signatures (good, bad, expired), duplicates processed once, events out
of order, and a failed payment moving an organization through grace to suspended."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from db import billing_accounts as accounts_db
from db import jobs as jobs_db
from server.billing import stripe_sync, stripe_webhooks
from server.calls.admission import CallLimitExceeded, NewCall, start_call
from server.jobs.registry import HANDLERS, SCHEDULES
from tests.fakes.stripe_server import signature
from tests.integration.billing.conftest import (
    WEBHOOK_SECRET,
    deliver,
    event_processed,
    eventually,
    org_plan,
    send_event,
    signup,
    subscribe,
)
from tests.security.webrtc_env import WORKFLOW, audio_offer


async def stored_events(server, event_id: str) -> int:
    return await server.services.db.fetchval("SELECT count(*) FROM stripe_events WHERE id = $1", event_id)


async def event_jobs(server, event_id: str) -> list:
    return await server.services.db.fetch(
        "SELECT id, status, attempts FROM jobs WHERE kind = $1 AND payload->>'event_id' = $2",
        stripe_webhooks.EVENT_JOB, event_id)  # fmt: skip


async def test_signatures_are_checked_before_anything_is_stored(http, billing_server,
                                                                fake_stripe):  # fmt: skip
    event = fake_stripe.event("invoice.paid", {"object": "invoice", "id": "in_x",
                                               "customer": "cus_nobody"})  # fmt: skip
    body = json.dumps(event).encode()
    now = int(time.time())
    refusals = {
        "wrong secret": signature(body, "whsec_not_the_secret", now),
        "expired": signature(body, WEBHOOK_SECRET, now - 301),
        "garbage": "t=abc,v1=zzz",
        "no v1": f"t={now}",
    }
    for why, header in refusals.items():
        r = await send_event(http, event, header=header)
        assert r.status_code == 400, (why, r.text)
        assert r.json()["error"]["code"] == "invalid_signature"
    missing = await http.post("/webhooks/stripe", content=body,
                              headers={"Content-Type": "application/json"})  # fmt: skip
    assert missing.status_code == 400
    # the body signed, then changed
    tampered = await http.post("/webhooks/stripe", content=body.replace(b"in_x", b"in_y"),
                               headers={"Stripe-Signature": signature(body, WEBHOOK_SECRET)})  # fmt: skip
    assert tampered.status_code == 400
    big = b'{"pad": "' + b"x" * 300_000 + b'"}'
    too_big = await http.post("/webhooks/stripe", content=big,
                              headers={"Stripe-Signature": signature(big, WEBHOOK_SECRET)})  # fmt: skip
    assert too_big.status_code == 413
    assert await stored_events(billing_server, event["id"]) == 0
    assert await event_jobs(billing_server, event["id"]) == []

    good = await send_event(http, event)  # within the tolerance: stored and processed
    assert good.status_code == 200, good.text
    assert good.json() == {"received": True, "event_id": event["id"], "duplicate": False}
    await eventually(lambda: event_processed(billing_server, event["id"]))


async def test_a_signed_body_that_is_not_an_event_is_refused(http, billing_server):
    for body in (b"[1, 2]", b'{"object": "event", "id": "evt_1"}', b"not json"):
        r = await http.post("/webhooks/stripe", content=body,
                            headers={"Stripe-Signature": signature(body, WEBHOOK_SECRET)})  # fmt: skip
        assert r.status_code == 400, r.text


async def test_the_same_event_twice_is_processed_once(http, billing_server, fake_stripe):
    headers, org = await signup(http)
    session = await subscribe(http, billing_server, fake_stripe, headers, org)
    sub = fake_stripe.state.subscriptions[session["subscription"]]
    event = fake_stripe.event("customer.subscription.updated", sub)
    reads_before = len(fake_stripe.calls_to("GET", "/v1/subscriptions"))

    first = await send_event(http, event)
    assert first.status_code == 200 and first.json()["duplicate"] is False
    await eventually(lambda: event_processed(billing_server, event["id"]))
    second = await send_event(http, event)
    assert second.status_code == 200 and second.json()["duplicate"] is True

    jobs = await event_jobs(billing_server, event["id"])
    assert [(j["status"], j["attempts"]) for j in jobs] == [("done", 1)]
    row = await billing_server.services.db.fetchrow(
        "SELECT attempts, processed_at FROM stripe_events WHERE id = $1", event["id"]
    )
    assert row["attempts"] == 1 and row["processed_at"] is not None
    # processing read Stripe once: the duplicate did nothing
    assert len(fake_stripe.calls_to("GET", "/v1/subscriptions")) == reads_before + 1
    assert await org_plan(billing_server, org) == "pro"


async def test_events_out_of_order_end_in_the_current_state(http, billing_server, fake_stripe):
    headers, org = await signup(http)
    session = await subscribe(http, billing_server, fake_stripe, headers, org)
    sub_id = session["subscription"]
    # At Stripe: the renewal fails (past_due), then the subscription is canceled.
    past_due = fake_stripe.event("customer.subscription.updated",
                                 fake_stripe.set_subscription_status(sub_id, "past_due"))  # fmt: skip
    deleted = fake_stripe.event("customer.subscription.deleted",
                                fake_stripe.set_subscription_status(sub_id, "canceled"))  # fmt: skip
    # They arrive the other way round; the stale one last.
    await deliver(http, billing_server, deleted)
    assert await org_plan(billing_server, org) == "free"  # BILLING_CANCELED_PLAN
    await deliver(http, billing_server, past_due)
    assert past_due["data"]["object"]["status"] == "past_due"  # what a naive handler applies
    account = await accounts_db.get(billing_server.services.db, org)
    assert account["subscription_status"] == "canceled"
    assert await org_plan(billing_server, org) == "free"


async def test_failed_payment_grace_then_suspended_and_calls_refused(http, billing_server,
                                                                    fake_stripe):  # fmt: skip
    services = billing_server.services
    headers, org = await signup(http)
    wf = await http.post("/api/v1/workflows", headers=headers,
                         json={"name": "billing", "definition": WORKFLOW})  # fmt: skip
    workflow_id = wf.json()["id"]
    assert (await http.post(f"/api/v1/workflows/{workflow_id}/publish", json={},
                            headers=headers)).status_code == 201  # fmt: skip
    session = await subscribe(http, billing_server, fake_stripe, headers, org)

    sub = fake_stripe.set_subscription_status(session["subscription"], "past_due")
    invoice = fake_stripe.add_invoice(session["customer"], subscription=sub["id"])
    await deliver(http, billing_server, fake_stripe.event("invoice.payment_failed", invoice))
    account = await accounts_db.get(services.db, org)
    assert account["subscription_status"] == "past_due"
    assert account["past_due_since"] is not None
    # within the grace period: the plan stays, and the periodic check leaves it alone
    assert await org_plan(billing_server, org) == "pro"
    assert await stripe_sync.suspend_past_grace(services) == 0
    assert await org_plan(billing_server, org) == "pro"

    # eight days later (BILLING_PAST_DUE_GRACE_DAYS=7), still unpaid
    await services.db.execute(
        "UPDATE billing_accounts SET past_due_since = now() - interval '8 days' "
        "WHERE organization_id = $1", org)  # fmt: skip
    assert "billing.past_due_grace" in {s.name for s in SCHEDULES}
    assert await stripe_sync.suspend_past_grace(services) == 1
    assert await org_plan(billing_server, org) == "suspended"
    changes = await services.db.fetch(
        "SELECT details->>'plan' AS plan FROM audit_log WHERE organization_id = $1 "
        "AND action = 'organization.plan_changed' ORDER BY created_at", org)  # fmt: skip
    assert [c["plan"] for c in changes] == ["pro", "suspended"]

    # calls are refused: admission, and a browser call through the API
    with pytest.raises(CallLimitExceeded, match="suspended"):
        await start_call(services, NewCall(organization_id=org, workflow_id=uuid.UUID(workflow_id),
                                           channel="webrtc", direction="browser"))  # fmt: skip
    caller, offer = await audio_offer()
    try:
        r = await http.post("/api/v1/webrtc/offer", headers=headers,
                            json={**offer, "workflow_id": workflow_id})  # fmt: skip
    finally:
        await caller.close()
    assert r.status_code in (402, 429), r.text  # the admission refusal (plan allows no calls)
    assert await services.db.fetchval("SELECT count(*) FROM calls WHERE organization_id = $1", org) == 0

    # the customer pays: the subscription is active again and so is the plan
    fake_stripe.set_subscription_status(sub["id"], "active")
    invoice["status"] = "paid"
    await deliver(http, billing_server, fake_stripe.event("invoice.paid", invoice))
    assert await org_plan(billing_server, org) == "pro"
    assert (await accounts_db.get(services.db, org))["past_due_since"] is None


async def test_a_failing_sync_is_retried_and_its_error_kept(http, billing_server, fake_stripe):
    headers, org = await signup(http)
    session = await subscribe(http, billing_server, fake_stripe, headers, org)
    fake_stripe.set_subscription_status(session["subscription"], "canceled")
    fake_stripe.fail_next("GET", "/v1/subscriptions", status=500)
    event = fake_stripe.event("customer.subscription.deleted",
                              fake_stripe.state.subscriptions[session["subscription"]])  # fmt: skip
    await deliver(http, billing_server, event)
    row = await billing_server.services.db.fetchrow(
        "SELECT attempts, last_error FROM stripe_events WHERE id = $1", event["id"]
    )
    assert row["attempts"] == 2
    [job] = await event_jobs(billing_server, event["id"])
    assert (await jobs_db.get(billing_server.services.db, job["id"]))["last_error"]
    assert await org_plan(billing_server, org) == "free"
    assert HANDLERS[stripe_webhooks.EVENT_JOB] is stripe_webhooks.process
