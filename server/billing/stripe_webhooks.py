"""Stripe webhooks: verify the signature, store the event by its id, process it in a job.

``receive`` (called by ``POST /webhooks/stripe``) verifies ``Stripe-Signature``
(``t=<unix>,v1=<hex HMAC-SHA256(STRIPE_WEBHOOK_SECRET, "<t>.<raw body>")>``, 300 s tolerance)
with the SDK's ``WebhookSignature``, then stores the event under Stripe's id and enqueues
its ``stripe.event`` job in one transaction. A duplicate id stores and enqueues nothing.
The job (``process``) re-reads the customer's subscriptions from Stripe
(``stripe_sync.sync_customer``): it trusts neither the event's order nor its payload.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import asyncpg
import stripe
import structlog

from db import jobs as jobs_db
from db import stripe_events as events_db
from server.billing import stripe_sync
from server.errors import ApiError
from server.json_body import parse_json

if TYPE_CHECKING:
    from server.services import Services

log = structlog.get_logger(__name__)

EVENT_JOB = "stripe.event"
TOLERANCE_SECONDS = 300
MAX_BODY_BYTES = 262_144  # Stripe's events are a few KiB
MAX_ATTEMPTS = 10
# Events that may change an organization's subscription state (all handled alike: re-read).
HANDLED = frozenset(
    {
        "checkout.session.completed",
        "checkout.session.async_payment_succeeded",
        "checkout.session.async_payment_failed",
        "customer.subscription.created",
        "customer.subscription.updated",
        "customer.subscription.deleted",
        "customer.subscription.paused",
        "customer.subscription.resumed",
        "customer.subscription.trial_will_end",
        "invoice.paid",
        "invoice.payment_failed",
        "invoice.payment_action_required",
    }
)
_EVENT_ID = re.compile(r"^evt_[A-Za-z0-9_]{1,250}$")
_EVENT_TYPE = re.compile(r"^[a-z0-9_.]{1,100}$")


def invalid(message: str, code: str = "invalid_signature") -> ApiError:
    return ApiError(400, code, message)


def verify(body: bytes, header: str | None, secret: str) -> dict[str, Any]:
    """The event, once its signature checks out; 400 otherwise (nothing is stored)."""
    if not header:
        raise invalid("the Stripe-Signature header is missing")
    try:
        stripe.WebhookSignature.verify_header(body.decode("utf-8"), header, secret,
                                              tolerance=TOLERANCE_SECONDS)  # fmt: skip
    except (stripe.SignatureVerificationError, UnicodeDecodeError, ValueError):
        raise invalid("the Stripe-Signature header does not match the body, or is too old"
                      ) from None  # fmt: skip
    event = parse_json(body)
    if not isinstance(event, dict) or event.get("object") != "event":
        raise invalid("the body is not a Stripe event", code="invalid_event")
    if not isinstance(event.get("id"), str) or not _EVENT_ID.match(event["id"]):
        raise invalid("the event has no valid id", code="invalid_event")
    if not isinstance(event.get("type"), str) or not _EVENT_TYPE.match(event["type"]):
        raise invalid("the event has no valid type", code="invalid_event")
    data = event.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
        raise invalid("the event has no data.object", code="invalid_event")
    return event


@dataclass(frozen=True, slots=True)
class Received:
    event_id: str
    duplicate: bool


async def receive(services: Services, body: bytes, signature: str | None) -> Received:
    """Verify, then store the event and queue its processing (once per event id)."""
    secret = services.settings.stripe_webhook_secret
    assert secret is not None  # the route answers billing_disabled without one
    event = verify(body, signature, secret.get_secret_value())
    async with services.db.acquire() as conn, conn.transaction():
        stored = await events_db.store(conn, event["id"], event["type"], event)
        if stored:
            await jobs_db.enqueue(conn, EVENT_JOB, {"event_id": event["id"]},
                                  max_attempts=MAX_ATTEMPTS)  # fmt: skip
    if not stored:
        log.info("stripe_event_duplicate", event_id=event["id"], type=event["type"])
    return Received(event_id=event["id"], duplicate=not stored)


def customer_of(event: dict[str, Any]) -> str | None:
    """The Stripe customer an event is about (its object's ``customer``, or the customer)."""
    obj = event["data"]["object"]
    if obj.get("object") == "customer":
        return str(obj.get("id")) if obj.get("id") else None
    customer = obj.get("customer")
    if isinstance(customer, dict):  # expanded
        customer = customer.get("id")
    return str(customer) if isinstance(customer, str) and customer else None


async def process(services: Services, job: asyncpg.Record) -> None:
    """The ``stripe.event`` job: apply the customer's current subscription, once."""
    event_id = str(job["payload"]["event_id"])
    row = await events_db.begin_attempt(services.db, event_id)
    if row is None:
        return  # processed already (or gone)
    event = row["payload"]
    try:
        customer = customer_of(event) if event["type"] in HANDLED else None
        if customer is not None:
            await stripe_sync.sync_customer(services, customer)
    except Exception as exc:
        await events_db.mark_failed(services.db, event_id, f"{type(exc).__name__}: {exc}")
        raise
    await events_db.mark_processed(services.db, event_id)
