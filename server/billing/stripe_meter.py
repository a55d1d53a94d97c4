"""Usage-based invoicing: each call's billable minutes become one Stripe meter event.

After a call ends, the post-call job enqueues ``stripe.meter_event`` (never the call path).
The job sends one meter event per usage record (the call's ``call_seconds`` record) with
``identifier`` = ``switchboard-usage-<usage record id>`` and the same idempotency key, so a
retry (a lost response, a crash before the record is marked sent) never bills twice: Stripe
keeps one event per identifier and replays the answer for the key. Sent records are marked
(``stripe_meter_events``) and skipped from then on. Failures raise, so the job queue retries
with backoff and the job's ``last_error`` shows why.

Billable minutes are whole minutes per call, rounded up (``billable_minutes``); the meter
sums them. ``reconcile`` compares, per organization, the local minutes of a month with the
meter's event summary for the organization's customer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from uuid import UUID

import asyncpg
import stripe

from db import billing_accounts as accounts_db
from db import jobs as jobs_db
from db import stripe_meter_events as meter_db
from server.billing import stripe_client
from server.billing.stripe_checkout import ensure_customer

if TYPE_CHECKING:
    from server.services import Services
    from server.settings import Settings

METER_JOB = "stripe.meter_event"
MAX_ATTEMPTS = 12  # with the queue's backoff: about a day of retries


class MeterEventFailed(Exception):
    """Stripe did not take the meter event (the job queue retries it)."""


def billable_minutes(seconds: float) -> int:
    """Whole minutes, rounded up (a 61-second call is 2 minutes); nothing for 0 s."""
    return max(0, math.ceil(round(seconds, 3) / 60))


def identifier(usage_record_id: UUID) -> str:
    return f"switchboard-usage-{usage_record_id}"


async def enqueue_for_call(conn: asyncpg.Pool | asyncpg.Connection, settings: Settings,
                           organization_id: UUID, call_id: UUID) -> None:  # fmt: skip
    """Post-call: queue the call's meter event (nothing when billing is disabled)."""
    if not stripe_client.billing_enabled(settings):
        return
    await jobs_db.enqueue(conn, METER_JOB, {"call_id": str(call_id)},
                          organization_id=organization_id, max_attempts=MAX_ATTEMPTS)  # fmt: skip


async def send_call_usage(services: Services, job: asyncpg.Record) -> None:
    """The ``stripe.meter_event`` job: one meter event per unsent usage record of the call."""
    org, call_id = job["organization_id"], UUID(job["payload"]["call_id"])
    client = stripe_client.client(services)
    for usage in await meter_db.billable_for_call(services.db, org, call_id):
        if usage.sent_at is not None:
            continue
        minutes = billable_minutes(usage.seconds)
        key = identifier(usage.usage_record_id)
        if minutes > 0:
            customer = await ensure_customer(services, org)
            try:
                await client.v1.billing.meter_events.create_async(
                    {
                        "event_name": services.settings.stripe_meter_event_name,
                        "identifier": key,
                        "timestamp": int(usage.recorded_at.timestamp()),
                        "payload": {"stripe_customer_id": customer, "value": str(minutes)},
                    },
                    {"idempotency_key": key},
                )
            except stripe.StripeError as exc:  # the job's last_error says what Stripe said
                raise MeterEventFailed(
                    f"meter event {key}: Stripe answered {exc.http_status or 'nothing'} "
                    f"({exc.code or type(exc).__name__}): {exc.user_message or ''}"[:500]
                ) from None
        await meter_db.mark_sent(services.db, org, usage.usage_record_id, identifier=key,
                                 minutes=minutes)  # fmt: skip


# --- reconciliation -----------------------------------------------------------------------


class ReconcileError(Exception):
    """The period is malformed, or the meter is not found at Stripe."""


def month_bounds(period: str) -> tuple[datetime, datetime]:
    """[start, end) of ``YYYY-MM`` in UTC."""
    try:
        start = datetime.strptime(period, "%Y-%m").replace(tzinfo=UTC)
    except ValueError:
        raise ReconcileError(f"period {period!r} is not YYYY-MM") from None
    end = (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else (start.replace(month=start.month + 1))
    )
    return start, end


@dataclass(frozen=True, slots=True)
class OrgUsage:
    organization_id: UUID
    customer: str | None
    local_minutes: int
    stripe_minutes: float
    records: int
    unsent: int

    @property
    def difference(self) -> float:
        return self.local_minutes - self.stripe_minutes


async def find_meter(client: stripe.StripeClient, event_name: str) -> str:
    meters = await client.v1.billing.meters.list_async({"status": "active", "limit": 100})
    async for meter in meters.auto_paging_iter():
        if meter.event_name == event_name:
            return str(meter.id)
    raise ReconcileError(f"no active Stripe meter with event name {event_name!r}")


async def reconcile(pool: asyncpg.Pool, client: stripe.StripeClient, *, event_name: str,
                    period: str) -> list[OrgUsage]:  # fmt: skip
    """Local billable minutes vs the meter's summary, per organization, for the month."""
    start, end = month_bounds(period)
    meter = await find_meter(client, event_name)
    customers = {a["organization_id"]: a["stripe_customer_id"]
                 for a in await accounts_db.with_customer(pool)}  # fmt: skip
    orgs = sorted(set(customers) | set(await meter_db.organizations_with_usage(
        pool, start=start, end=end)), key=str)  # fmt: skip
    out = []
    for org in orgs:
        usage = await meter_db.billable_in_period(pool, org, start=start, end=end)
        customer = customers.get(org)
        at_stripe = 0.0
        if customer is not None:
            summaries = await client.v1.billing.meters.event_summaries.list_async(meter, {
                "customer": customer,
                "start_time": int(start.timestamp()),
                "end_time": int(end.timestamp()),
                "limit": 100,
            })  # fmt: skip
            async for summary in summaries.auto_paging_iter():
                at_stripe += float(summary.aggregated_value)
        out.append(OrgUsage(
            organization_id=org, customer=customer,
            local_minutes=sum(billable_minutes(u.seconds) for u in usage),
            stripe_minutes=at_stripe, records=len(usage),
            unsent=sum(1 for u in usage if u.sent_at is None),
        ))  # fmt: skip
    return out
