"""A server with Stripe billing on, against the fake Stripe (``tests/fakes/stripe_server.py``).

The server gets a database of its own: the session's default server (billing off) runs a
job worker too, and must not claim this server's Stripe jobs.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest

from tests.conftest import LiveServer, make_settings, run_server
from tests.fakes.stripe_server import FakeStripe, signature

WEBHOOK_SECRET = "whsec_test_switchboard_0123456789"
METER_EVENT = "switchboard_call_minutes"
PRICES = {"pro": ("price_pro_base", "price_pro_minutes"),
          "scale": ("price_scale_base", "price_scale_minutes")}  # fmt: skip
PLAN_FIELDS = {
    "pro": {"included_minutes": 2000, "overage": "allowed", "max_concurrent_calls": 50,
            "max_workflows": 100, "max_phone_numbers": 20},
    "scale": {"included_minutes": 20000, "overage": "allowed", "max_concurrent_calls": 500,
              "max_workflows": 1000, "max_phone_numbers": 500},
}  # fmt: skip


@pytest.fixture(scope="session")
async def fake_stripe() -> AsyncIterator[FakeStripe]:
    async with FakeStripe() as fake:
        for base, metered in PRICES.values():
            fake.add_price(base, unit_amount=4900)
            fake.add_price(metered, metered=True)
        fake.add_meter(METER_EVENT)
        yield fake


@pytest.fixture(scope="session")
async def stripe_database_url(database_url: str) -> AsyncIterator[str]:
    parts = urlsplit(database_url)
    name = parts.path.lstrip("/") + "_stripe"
    admin = await asyncpg.connect(urlunsplit(parts._replace(path="/postgres")))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    yield urlunsplit(parts._replace(path=f"/{name}"))
    admin = await asyncpg.connect(urlunsplit(parts._replace(path="/postgres")))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def stripe_env(fake: FakeStripe) -> dict[str, Any]:
    return {
        "stripe_api_key": fake.api_key,
        "stripe_webhook_secret": WEBHOOK_SECRET,
        "stripe_api_base": fake.http_url,
        "stripe_meter_event_name": METER_EVENT,
        "billing_past_due_grace_days": 7,
        "billing_canceled_plan": "free",
    }


@pytest.fixture(scope="session")
async def billing_server(fake_stripe: FakeStripe, stripe_database_url: str, run_dir: Path
                         ) -> AsyncIterator[LiveServer]:  # fmt: skip
    plans = {"plans": {name: {**PLAN_FIELDS[name], "stripe_price_id": base,
                              "stripe_metered_price_id": metered,
                              "features": ["recording", "campaigns", "bring_your_own_keys",
                                           "cloud_providers"]}
                       for name, (base, metered) in PRICES.items()}}  # fmt: skip
    plans_file = run_dir / "stripe-plans.json"
    plans_file.write_text(json.dumps(plans))
    data_dir = run_dir / "stripe-data"
    data_dir.mkdir(exist_ok=True)
    settings = make_settings(stripe_database_url, data_dir, plans_file=plans_file,
                             job_retry_base_seconds=0.05, jobs_poll_seconds=0.1,
                             **stripe_env(fake_stripe))  # fmt: skip
    async with run_server(settings) as live:
        yield live


@pytest.fixture
async def http(billing_server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=billing_server.url, timeout=30) as client:
        yield client


async def signup(http: httpx.AsyncClient) -> tuple[dict[str, str], uuid.UUID]:
    email = f"bill-{uuid.uuid4().hex[:10]}@example.com"
    r = await http.post("/api/v1/auth/signup", json={"email": email, "password": "correct horse battery"})
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}, uuid.UUID(r.json()["organization_id"])


async def send_event(http: httpx.AsyncClient, event: dict[str, Any], *,
                     secret: str = WEBHOOK_SECRET, timestamp: int | None = None,
                     header: str | None = None) -> httpx.Response:  # fmt: skip
    """POST the event to the webhook the way Stripe delivers it (signed raw JSON)."""
    body = json.dumps(event).encode()
    sig = header if header is not None else signature(body, secret, timestamp)
    return await http.post("/webhooks/stripe", content=body,
                           headers={"Content-Type": "application/json; charset=utf-8",
                                    "Stripe-Signature": sig})  # fmt: skip


async def eventually(check: Callable[[], Awaitable[Any]], *, within: float = 20.0) -> Any:
    """Poll ``check`` until it returns something truthy (the job worker runs meanwhile)."""
    deadline = time.monotonic() + within
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {within} s: {check}")
        await asyncio.sleep(0.05)


async def org_plan(server: LiveServer, org: uuid.UUID) -> str:
    return await server.services.db.fetchval("SELECT plan FROM organizations WHERE id = $1", org)


async def event_processed(server: LiveServer, event_id: str) -> bool:
    return bool(
        await server.services.db.fetchval(
            "SELECT processed_at IS NOT NULL FROM stripe_events WHERE id = $1", event_id
        )
    )


async def deliver(http: httpx.AsyncClient, server: LiveServer, event: dict[str, Any]) -> None:
    """Deliver a signed event and wait until its job has processed it."""
    r = await send_event(http, event)
    assert r.status_code == 200, r.text
    await eventually(lambda: event_processed(server, event["id"]))


async def subscribe(http: httpx.AsyncClient, server: LiveServer, fake: FakeStripe,
                    headers: dict[str, str], org: uuid.UUID, plan: str = "pro"
                    ) -> dict[str, Any]:  # fmt: skip
    """Checkout for ``plan``, paid at the fake, and the completion webhook processed.
    Returns the completed session (``customer``, ``subscription``)."""
    r = await http.post("/api/v1/billing/checkout", json={"plan": plan}, headers=headers)
    assert r.status_code == 201, r.text
    session = fake.complete_checkout(r.json()["id"])
    await deliver(http, server, fake.event("checkout.session.completed", session))
    assert await org_plan(server, org) == plan
    return session
