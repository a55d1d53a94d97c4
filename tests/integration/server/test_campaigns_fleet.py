"""Campaigns across instances sharing one PostgreSQL: a dialer that dies between claiming a
contact and hearing back from the carrier (the attempt is re-sent with the same idempotency
key, the carrier places it once, the contact is not lost), and two instances dispatching
one campaign (no number dialed twice, never more than max_concurrent_calls up at once)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.fakes.carriers.twilio_rest import FakeTwilioRest
from tests.integration.server.campaign_carrier import (
    SID,
    TOKEN,
    Org,
    carrier,
    instance,
    own_database_url,  # noqa: F401  (own database)
)


@pytest.fixture
async def fake() -> AsyncIterator[FakeTwilioRest]:
    async with FakeTwilioRest(SID, TOKEN) as server:
        yield server
        server.unstall.set()


async def _until(predicate: Any, timeout: float = 30) -> None:
    async def wait() -> None:
        while not predicate():
            await asyncio.sleep(0.05)

    await asyncio.wait_for(wait(), timeout)


def _creates(fake: FakeTwilioRest, number: str) -> list[Any]:
    return [q for q in fake.requests if q.path.endswith("/Calls.json") and q.get("To") == number]


async def _attempt_dialed(org: Org, campaign_id: str, number: str) -> bool:
    [contact] = [c for c in await org.contacts(campaign_id) if c["phone_number"] == number]
    return bool(contact["calls"] and contact["calls"][0]["carrier_call_id"])


async def _until_async(predicate: Any, timeout: float = 30) -> None:
    async def wait() -> None:
        while not await predicate():
            await asyncio.sleep(0.1)

    await asyncio.wait_for(wait(), timeout)


async def test_dialer_dies_mid_dial_same_key_resent_no_second_call(
    fake: FakeTwilioRest, database_url: str, data_dir: Any
) -> None:
    victim = "+12125550199"
    others = ["+12125550101", "+12125550102"]
    fake.stall = lambda request: request.get("To") == victim  # the answer never comes back
    async with instance(database_url, data_dir, fake) as first, \
            httpx.AsyncClient(base_url=first.url, timeout=30) as http, \
            carrier(fake, first.url, first.services.db) as scripted:  # fmt: skip
        scripted.hold.add(victim)
        org = await Org(http).setup()
        campaign_id = await org.campaign([{"phone_number": n} for n in [victim, *others]])
        assert (await org.act(campaign_id, "start")).status_code == 200
        await _until(lambda: len(fake.dialed(victim)) == 1)
        # the dialer dies: its task is gone mid-request, the attempt stays ``dialing``
        assert first.services.campaigns is not None
        await first.services.campaigns.stop()
        [contact] = [c for c in await org.contacts(campaign_id) if c["phone_number"] == victim]
        assert contact["state"] == "calling" and contact["calls"][0]["state"] == "dialing"
        assert contact["calls"][0]["carrier_call_id"] is None
    fake.stall = None
    # another instance picks the campaign up once the attempt's lease has run out
    async with instance(database_url, data_dir, fake) as second, \
            httpx.AsyncClient(base_url=second.url, timeout=30) as http, \
            carrier(fake, second.url, second.services.db) as scripted:  # fmt: skip
        scripted.hold.add(victim)
        org.http = http
        await _until(lambda: len(_creates(fake, victim)) == 2, timeout=30)
        # the carrier answered the re-send with the call it had placed; it now plays out
        await _until_async(lambda: _attempt_dialed(org, campaign_id, victim))
        await scripted.play(fake.dialed(victim)[0])
        done = await org.wait_state(campaign_id, "completed", timeout=60)
        assert done["progress"]["states"]["completed"] == 3
        [contact] = [c for c in await org.contacts(campaign_id) if c["phone_number"] == victim]
    creates = _creates(fake, victim)
    assert len(creates) == 2  # the original request and its re-send ...
    assert creates[0].idempotency_token == creates[1].idempotency_token  # ... with one key
    assert len(fake.dialed(victim)) == 1  # so the carrier placed ONE call
    assert contact["state"] == "completed" and contact["attempts"] == 1
    [attempt] = contact["calls"]
    assert attempt["carrier_call_id"] == fake.dialed(victim)[0].sid
    assert attempt["outcome"] == "completed"


async def test_two_instances_no_duplicate_dials_concurrency_held(
    fake: FakeTwilioRest, database_url: str, data_dir: Any, redis_url: str, redis_prefix: str
) -> None:
    # a fleet shares its concurrency slots and control bus through Redis
    fleet = {"redis_url": redis_url, "redis_prefix": redis_prefix}
    numbers = [f"+1313555{i:04d}" for i in range(24)]
    fake.create_delay = 0.05  # widen the window between claim and the carrier's answer
    async with instance(database_url, data_dir, fake, **fleet) as a, \
            instance(database_url, data_dir, fake, **fleet) as b, \
            httpx.AsyncClient(base_url=a.url, timeout=30) as http, \
            carrier(fake, a.url, a.services.db) as scripted:  # fmt: skip
        scripted.ringing = 0.2
        org = await Org(http).setup()
        campaign_id = await org.campaign([{"phone_number": n} for n in numbers],
                                         max_concurrent_calls=3)  # fmt: skip
        assert (await org.act(campaign_id, "start")).status_code == 200
        # the other instance learns of the campaign from its own schedule, and is woken too
        assert b.services.job_worker is not None
        from server.campaigns.dispatcher import dispatcher_for

        dispatcher_for(b.services).wake()
        done = await org.wait_state(campaign_id, "completed", timeout=90)
        shares = [s.services.campaigns.dialed for s in (a, b) if s.services.campaigns]
    assert sum(shares) >= len(numbers)  # claims (a refused admission is claimed again)
    assert done["progress"]["states"]["completed"] == len(numbers)
    assert all(len(fake.dialed(n)) == 1 for n in numbers)
    creates = [q for q in fake.requests if q.path.endswith("/Calls.json") and q.get("To") in numbers]
    # one key per number: a dial slower than its lease may be re-sent, always with its key
    keys = {n: {q.idempotency_token for q in creates if q.get("To") == n} for n in numbers}
    assert all(len(k) == 1 and None not in k for k in keys.values())
    assert 2 <= fake.max_active <= 3
