"""Customer webhooks: signed event delivery through the job queue.

Each event becomes one delivery per subscribed webhook, each sent by a ``webhook.deliver``
job, so delivery never blocks a call and failures retry with the queue's exponential
backoff. Every attempt (status code or error, duration) is recorded. Each POST goes
through the egress policy (``services.egress``: the address is checked when connecting, no
redirects), and the queue claims jobs round-robin across organizations, so one
organization's backlog does not delay another's deliveries.

Signature (documented for receivers): ``X-Switchboard-Timestamp: <unix seconds>`` and
``X-Switchboard-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>``. Receivers
recompute it over the raw body and reject timestamps older than a few minutes (replays).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

import asyncpg
import httpx
import structlog

from db import jobs as jobs_db
from db import webhooks as webhooks_db
from runtime.egress import EgressPolicy, EgressRefused

if TYPE_CHECKING:
    from server.services import Services

log = structlog.get_logger(__name__)

EVENTS = ("call.ended", "call.analyzed", "usage.threshold",  # usage: server/billing/usage.py
          "campaign.started", "campaign.completed", "campaign.contact_completed")
SIGNATURE_HEADER = "X-Switchboard-Signature"
TIMESTAMP_HEADER = "X-Switchboard-Timestamp"
DELIVER_JOB = "webhook.deliver"
MAX_DELIVERY_ATTEMPTS = 8


class DeliveryFailed(Exception):
    """The receiver did not accept the event (the job queue retries it)."""


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, signature: str, *,
           tolerance_seconds: int = 300, now: float | None = None) -> bool:
    """What a receiver does: check freshness, then compare signatures in constant time."""
    try:
        ts = int(timestamp)
    except ValueError:
        return False
    if abs((now if now is not None else time.time()) - ts) > tolerance_seconds:
        return False
    return hmac.compare_digest(sign(secret, ts, body), signature)


async def emit_event(services: Services, organization_id: UUID, event: str,
                     data: dict[str, Any]) -> int:
    """Queue ``event`` for every active webhook of the organization subscribed to it."""
    hooks = await webhooks_db.subscribed(services.db, organization_id, event)
    for hook in hooks:
        delivery_id = uuid.uuid4()
        envelope = {
            "id": str(delivery_id),
            "type": event,
            "created_at": datetime.now(UTC).isoformat(),
            "organization_id": str(organization_id),
            "data": data,
        }
        async with services.db.acquire() as conn, conn.transaction():
            delivery = await webhooks_db.create_delivery(conn, organization_id, hook["id"],
                                                         event=event, payload=envelope)
            await jobs_db.enqueue(conn, DELIVER_JOB, {"delivery_id": str(delivery["id"])},
                                  organization_id=organization_id,
                                  max_attempts=MAX_DELIVERY_ATTEMPTS,
                                  priority=jobs_db.PRIORITY_HIGH)
    return len(hooks)


async def check_destination(url: str, *, egress: EgressPolicy) -> None:
    """Refuse non-HTTP(S) URLs and non-public addresses now (the send checks again)."""
    try:
        await egress.check_url(url)
    except EgressRefused as exc:
        raise DeliveryFailed(str(exc)) from None


async def deliver(services: Services, job: asyncpg.Record) -> None:
    """The ``webhook.deliver`` job: one signed POST attempt, recorded either way."""
    delivery_id = UUID(job["payload"]["delivery_id"])
    row = await webhooks_db.delivery_for_send(services.db, delivery_id)
    if row is None or row["status"] != "pending":
        return  # webhook deleted (with its deliveries), or already settled
    if not row["active"]:
        await webhooks_db.mark_failed(services.db, delivery_id)  # disabled since queued
        return
    body = json.dumps(row["payload"], separators=(",", ":")).encode()
    timestamp = int(time.time())
    secret = services.secret_box.decrypt(row["secret_ciphertext"])
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Switchboard-Webhooks/1",
        "X-Switchboard-Event": row["event"],
        "X-Switchboard-Delivery": str(delivery_id),
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(secret, timestamp, body),
    }
    started = time.monotonic()
    status: int | None = None
    error: str | None = None
    try:
        # The egress policy checks the address it connects to; redirects are not followed.
        async with services.egress.client(
                timeout=services.settings.webhook_timeout_seconds) as http:
            response = await http.post(row["url"], content=body, headers=headers)
        status = response.status_code
        if not 200 <= status < 300:
            error = f"HTTP {status}"
    except EgressRefused as exc:
        error = str(exc)
    except httpx.TimeoutException:
        error = "timeout"
    except httpx.HTTPError as exc:
        # The exception text is not recorded: it would tell open ports from closed ones.
        error = "connection failed" if isinstance(exc, httpx.TransportError) else (
            type(exc).__name__)
    duration_ms = int((time.monotonic() - started) * 1000)
    attempt = await webhooks_db.record_attempt(services.db, delivery_id, status_code=status,
                                               error=error, duration_ms=duration_ms,
                                               delivered=error is None)
    if error is not None:
        log.info("webhook_attempt_failed", delivery_id=str(delivery_id), attempt=attempt,
                 error=error)
        raise DeliveryFailed(error)


async def give_up(services: Services, job: asyncpg.Record) -> None:
    await webhooks_db.mark_failed(services.db, UUID(job["payload"]["delivery_id"]))
