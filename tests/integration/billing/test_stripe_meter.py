"""Usage-based invoicing: each ended call's billable minutes reach Stripe's meter exactly
once (across a failed send), and ``switchboard billing reconcile`` agrees with Stripe after
a run of calls and points at a record that never reached it."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from datetime import UTC, datetime

from db import calls as calls_db
from db import usage as usage_db
from db.calls import CallStatus
from pipeline.events import EndReason
from server.billing import stripe_client, stripe_meter
from server.jobs import enqueue_post_call
from tests.fakes.stripe_server import FakeStripe
from tests.integration.billing.conftest import (
    METER_EVENT,
    eventually,
    signup,
    subscribe,
)

METER_PATH = "/v1/billing/meter_events"


async def ended_call(services, org: uuid.UUID, seconds: float, *, post_call: bool = True
                     ) -> uuid.UUID:  # fmt: skip
    """A finished browser call with its billable seconds, handed to the post-call path."""
    row = await calls_db.create(
        services.db, org, workflow_id=None, workflow_version=None, channel="webrtc",
        direction="browser", from_number=None, to_number=None, status="in-progress",
        carrier=None, carrier_call_id=None, test=False, variables={}, metadata={},
    )  # fmt: skip
    await calls_db.finalize(services.db, row["id"], status=CallStatus.COMPLETED,
                            end_reason=EndReason.COMPLETED, duration_seconds=seconds)  # fmt: skip
    await usage_db.upsert_for_call(services.db, org, row["id"], None,
                                   [("call_seconds", "webrtc", "", seconds)])  # fmt: skip
    if post_call:
        await enqueue_post_call(services, org, row["id"])
    return row["id"]


async def meter_job(services, call_id: uuid.UUID):
    return await services.db.fetchrow(
        "SELECT status, attempts, last_error FROM jobs WHERE kind = $1 "
        "AND payload->>'call_id' = $2", stripe_meter.METER_JOB, str(call_id))  # fmt: skip


async def sent(services, call_id: uuid.UUID) -> bool:
    job = await meter_job(services, call_id)
    return job is not None and job["status"] == "done"


def test_billable_minutes_round_up_per_call():
    assert [stripe_meter.billable_minutes(s) for s in (0, 0.2, 59.9, 60, 60.0004, 61, 3600)] == [
        0, 1, 1, 1, 1, 2, 60]  # fmt: skip


async def test_meter_event_sent_once_across_a_lost_response(http, billing_server, fake_stripe):
    services = billing_server.services
    headers, org = await signup(http)
    session = await subscribe(http, billing_server, fake_stripe, headers, org)
    # Stripe records the first send, but its answer is lost: the job fails and retries.
    fake_stripe.fail_next("POST", METER_PATH, status=500, after_effect=True)
    call_id = await ended_call(services, org, 61.0)
    await eventually(lambda: sent(services, call_id))

    [usage] = await usage_db.for_call(services.db, org, call_id)
    record_id = await services.db.fetchval(
        "SELECT id FROM usage_records WHERE call_id = $1 AND kind = 'call_seconds'", call_id
    )
    ident = stripe_meter.identifier(record_id)
    attempts = [c for c in fake_stripe.calls_to("POST", METER_PATH)
                if c.params.get("identifier") == ident]  # fmt: skip
    assert [c.status for c in attempts] == [500, 200]
    assert {c.idempotency_key for c in attempts} == {ident}
    assert attempts[0].params["payload"] == {"stripe_customer_id": session["customer"],
                                             "value": "2"}  # fmt: skip
    assert attempts[0].params["event_name"] == METER_EVENT
    events = [e for e in fake_stripe.state.meter_events if e.identifier == ident]
    assert len(events) == 1 and events[0].value == 2
    job = await meter_job(services, call_id)
    assert job["attempts"] == 2 and "500" in job["last_error"]  # the failure stays visible

    # running the job again (a duplicate call.ended) sends nothing more
    before = len(fake_stripe.calls_to("POST", METER_PATH))
    await stripe_meter.send_call_usage(services, {"organization_id": org,
                                                  "payload": {"call_id": str(call_id)}})  # fmt: skip
    assert len(fake_stripe.calls_to("POST", METER_PATH)) == before


async def test_a_call_with_no_billable_time_sends_nothing(http, billing_server, fake_stripe):
    services = billing_server.services
    _, org = await signup(http)
    before = len(fake_stripe.calls_to("POST", METER_PATH))
    call_id = await ended_call(services, org, 0.0)
    await eventually(lambda: sent(services, call_id))
    assert len(fake_stripe.calls_to("POST", METER_PATH)) == before


async def reconcile_cli(fake: FakeStripe, database_url: str, period: str) -> tuple[int, str]:
    env = {**os.environ, "DATABASE_URL": database_url, "STRIPE_API_KEY": fake.api_key,
           "STRIPE_API_BASE": fake.http_url, "STRIPE_METER_EVENT_NAME": METER_EVENT,
           "MIGRATE_ON_START": "false", "LOG_LEVEL": "warning"}  # fmt: skip
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "server.cli", "billing", "reconcile", "--period", period,
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), 120)
    return proc.returncode or 0, out.decode()


def org_line(output: str, org: uuid.UUID) -> str:
    return next(line for line in output.splitlines() if str(org) in line)


async def test_reconcile_agrees_after_calls_and_finds_a_missing_record(
        http, billing_server, fake_stripe, stripe_database_url):  # fmt: skip
    services = billing_server.services
    headers, org = await signup(http)
    await subscribe(http, billing_server, fake_stripe, headers, org)
    calls = [await ended_call(services, org, s) for s in (30.0, 61.0, 125.0, 0.0)]
    for call_id in calls:
        await eventually(lambda c=call_id: sent(services, c))
    period = datetime.now(UTC).strftime("%Y-%m")

    client = stripe_client.client(services)
    rows = await stripe_meter.reconcile(services.db, client, event_name=METER_EVENT,
                                        period=period)  # fmt: skip
    mine = next(r for r in rows if r.organization_id == org)
    assert (mine.local_minutes, mine.stripe_minutes, mine.records, mine.unsent) == (6, 6, 4, 0)

    code, output = await reconcile_cli(fake_stripe, stripe_database_url, period)
    assert code == 0, output
    assert "0 with differences" in output
    assert org_line(output, org).startswith("ok")

    # a record that never reached Stripe (its post-call job never ran)
    await ended_call(services, org, 90.0, post_call=False)
    code, output = await reconcile_cli(fake_stripe, stripe_database_url, period)
    assert code == 1, output
    line = org_line(output, org)
    assert line.startswith("DIFF")
    assert "local=8 stripe=6 difference=2" in line and "unsent=1" in line


async def test_reconcile_refuses_a_bad_period(fake_stripe, stripe_database_url):
    code, output = await reconcile_cli(fake_stripe, stripe_database_url, "2026-13")
    assert code == 2 and "YYYY-MM" in output
