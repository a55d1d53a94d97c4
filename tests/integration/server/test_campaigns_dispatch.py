"""Campaign dispatch end to end against the fake Twilio REST API and signed status
callbacks: scripted outcomes and retries, calling windows under a controlled clock,
pause/resume/cancel, admission refusals that slow a campaign, a dialer dying mid-dial (no
second dial, the contact not lost) and two instances dispatching one campaign."""

from __future__ import annotations

import asyncio
import io
from collections import Counter
from collections.abc import AsyncIterator
from csv import DictReader
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import httpx
import pytest

from db import calls as calls_db
from db import usage as usage_db
from server.campaigns.dispatcher import Dispatcher
from server.campaigns.windows import ManualClock
from tests.conftest import LiveServer
from tests.fakes.carriers.twilio_rest import FakeTwilioRest
from tests.integration.server.campaign_carrier import (
    SID,
    TOKEN,
    Org,
    ScriptedCarrier,
    carrier,
    instance,
    own_database_url,  # noqa: F401  (own database)
)

MONDAY_NOON = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
PRICING = {"currency": "EUR", "providers": {"twilio": {"carrier_per_minute": 0.6},
                                            "deepgram": {"stt_per_minute": 0.3}}}  # fmt: skip


class Env:
    def __init__(self, live: LiveServer, fake: FakeTwilioRest, http: httpx.AsyncClient,
                 clock: ManualClock, scripted: ScriptedCarrier) -> None:  # fmt: skip
        self.live, self.fake, self.http, self.clock, self.carrier = live, fake, http, clock, scripted

    @property
    def dispatcher(self) -> Dispatcher:
        assert self.live.services.campaigns is not None
        return self.live.services.campaigns


@pytest.fixture(scope="module")
async def env(database_url: str, data_dir: Any) -> AsyncIterator[Env]:
    async with FakeTwilioRest(SID, TOKEN) as fake, \
            instance(database_url, data_dir, fake, pricing=PRICING) as live:  # fmt: skip
        clock = ManualClock(MONDAY_NOON)
        old = live.services.campaigns
        if old is not None:
            await old.stop()
        live.services.campaigns = Dispatcher(live.services, clock=clock)
        async with httpx.AsyncClient(base_url=live.url, timeout=30) as http, \
                carrier(fake, live.url, live.services.db) as scripted:  # fmt: skip
            yield Env(live, fake, http, clock, scripted)


def _numbers(prefix: str, count: int) -> list[str]:
    return [f"{prefix}{i:04d}" for i in range(count)]


async def test_fifty_contacts_scripted_outcomes_and_retries(env: Env) -> None:
    org = await Org(env.http).setup()
    numbers = _numbers("+1202555", 50)
    expected: dict[str, tuple[str, int]] = {}
    plans = ([["answered"]] * 20 + [["busy", "busy", "answered"]] * 8 + [["busy"] * 3] * 6
             + [["no-answer", "answered"]] * 6 + [["voicemail"] * 3] * 5 + [["failed"]] * 5)  # fmt: skip
    for number, plan in zip(numbers, plans, strict=True):
        env.carrier.script[number] = plan
        final = {"answered": "completed"}.get(plan[-1], plan[-1])
        expected[number] = (final, len(plan))
    received = []
    campaign_id = await org.campaign(
        [{"phone_number": n, "variables": {"first_name": f"N{i}"}} for i, n in enumerate(numbers)],
        max_concurrent_calls=3,
        retry={"retry_on": ["busy", "no-answer", "voicemail"], "max_attempts": 3,
               "backoff_seconds": 0},
        voicemail={"detect": True, "action": "hangup"},
    )  # fmt: skip
    env.fake.max_active = len(env.fake.active)
    r = await org.act(campaign_id, "start")
    assert r.status_code == 200 and r.json()["state"] == "running", r.text
    assert (await org.act(campaign_id, "start")).status_code == 409
    done = await org.wait_state(campaign_id, "completed", timeout=120)

    contacts = {c["phone_number"]: c for c in await org.contacts(campaign_id)}
    got = {n: (contacts[n]["state"], contacts[n]["attempts"]) for n in numbers}
    assert got == expected
    assert env.fake.max_active <= 3
    for number in numbers:  # one carrier call per attempt, each with its own key
        calls = env.fake.dialed(number)
        assert len(calls) == expected[number][1]
        contact = contacts[number]
        assert [a["attempt"] for a in contact["calls"]] == list(range(1, len(calls) + 1))
        assert {a["carrier_call_id"] for a in contact["calls"]} == {c.sid for c in calls}
    creates = [q for q in env.fake.requests if q.path.endswith("/Calls.json")
               and q.get("To") in expected]  # fmt: skip
    # one key per attempt (a dial re-sent after a timeout repeats its key, never a new one)
    tokens = {q.idempotency_token for q in creates}
    assert None not in tokens and len(tokens) == sum(a for _, a in expected.values())
    assert all(q.get("MachineDetection") == "DetectMessageEnd" for q in creates)
    progress = done["progress"]
    assert progress["states"]["completed"] == 34 and progress["states"]["busy"] == 6
    assert progress["states"]["voicemail"] == 5 and progress["states"]["failed"] == 5
    assert progress["attempts"] == sum(a for _, a in expected.values())
    assert progress["answered"] == 34
    # the call rows link to the campaign and contact, and carry the contact's variables
    contact = contacts[numbers[0]]
    row = await calls_db.get(env.live.services.db, UUID(org.org), UUID(contact["calls"][0]["call_id"]))
    assert row is not None and row["variables"]["first_name"] == "N0"
    linked = await env.live.services.db.fetchval(
        "SELECT campaign_contact_id FROM calls WHERE id = $1", row["id"]
    )
    assert str(linked) == contact["id"]
    csv = await env.http.get(f"/api/v1/campaigns/{campaign_id}/results.csv", headers=org.headers)
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    lines = csv.text.strip().splitlines()
    assert len(lines) == 51 and lines[0].startswith("row,phone_number")
    del received


async def test_calling_windows_in_two_time_zones(env: Env) -> None:
    org = await Org(env.http).setup()
    london, tokyo = _numbers("+4420794", 2), _numbers("+8135550", 2)
    campaign_id = await org.campaign(
        [{"phone_number": n} for n in london + tokyo],
        schedule={"time_zone": "UTC", "windows": {d: [{"start": "09:00", "end": "17:00"}]
                                                  for d in ("mon", "tue", "wed", "thu", "fri")}},
    )  # fmt: skip
    contacts = {c["phone_number"]: c for c in await org.contacts(campaign_id)}
    assert {contacts[n]["time_zone"] for n in london} == {"Europe/London"}
    assert {contacts[n]["time_zone"] for n in tokyo} == {"Asia/Tokyo"}
    env.clock.set(datetime(2026, 11, 30, 8, 30, tzinfo=UTC))  # London 08:30, Tokyo 17:30
    assert (await org.act(campaign_id, "start")).status_code == 200
    await asyncio.sleep(0.6)
    assert not any(env.fake.dialed(n) for n in london + tokyo)
    env.clock.set(datetime(2026, 11, 30, 9, 0, tzinfo=UTC))  # London opens; Tokyo 18:00
    await _until(lambda: all(env.fake.dialed(n) for n in london))
    await asyncio.sleep(0.6)
    assert not any(env.fake.dialed(n) for n in tokyo)
    env.clock.set(datetime(2026, 12, 1, 0, 30, tzinfo=UTC))  # Tue: Tokyo 09:30, London 00:30
    await _until(lambda: all(env.fake.dialed(n) for n in tokyo))
    await org.wait_state(campaign_id, "completed")
    env.clock.set(MONDAY_NOON)


async def test_pause_resume_and_cancel_mid_run(env: Env) -> None:
    org = await Org(env.http).setup()
    numbers = _numbers("+1303555", 12)
    env.carrier.ringing = 0.3
    try:
        campaign_id = await org.campaign([{"phone_number": n} for n in numbers],
                                         max_concurrent_calls=2)  # fmt: skip
        assert (await org.act(campaign_id, "start")).status_code == 200
        await _until(lambda: _dialed(env, numbers) >= 2)
        assert (await org.act(campaign_id, "pause")).json()["state"] == "paused"
        await asyncio.sleep(0.3)
        frozen = _dialed(env, numbers)
        await asyncio.sleep(1.2)  # calls in progress finish; nothing new is dialed
        assert _dialed(env, numbers) == frozen < 12
        paused = await org.get(campaign_id)
        assert paused["progress"]["states"]["calling"] == 0
        assert (await org.act(campaign_id, "resume")).json()["state"] == "running"
        await _until(lambda: _dialed(env, numbers) >= frozen + 2)
        canceled = await org.act(campaign_id, "cancel")
        assert canceled.json()["state"] == "canceled"
        await asyncio.sleep(1.2)
        final = await org.get(campaign_id)
        states = final["progress"]["states"]
        assert states["pending"] == 0 and states["calling"] == 0
        assert states["completed"] == _dialed(env, numbers) and states["canceled"] > 0
        assert states["completed"] + states["canceled"] == 12
        assert (await org.act(campaign_id, "resume")).status_code == 409
    finally:
        env.carrier.ringing = 0.15


async def test_org_concurrency_limit_slows_but_fails_nothing(env: Env) -> None:
    org = await Org(env.http).setup()
    r = await env.http.patch("/api/v1/organization", json={"max_concurrent_calls": 1},
                             headers=org.headers)  # fmt: skip
    assert r.status_code == 200, r.text
    numbers = _numbers("+1404555", 6)
    campaign_id = await org.campaign([{"phone_number": n} for n in numbers],
                                     max_concurrent_calls=3)  # fmt: skip
    assert (await org.act(campaign_id, "start")).status_code == 200
    # refusals keep contacts pending; the clock moves past each refusal's short wait
    for _ in range(200):
        if (await org.get(campaign_id))["state"] == "completed":
            break
        env.clock.advance(6)
        await asyncio.sleep(0.1)
    env.clock.set(MONDAY_NOON)
    contacts = await org.contacts(campaign_id)
    assert {(c["state"], c["attempts"]) for c in contacts} == {("completed", 1)}
    assert all(len(env.fake.dialed(n)) == 1 for n in numbers)


async def test_pacing_calls_per_minute_follows_the_clock(env: Env) -> None:
    org = await Org(env.http).setup()
    numbers = _numbers("+1505555", 5)
    campaign_id = await org.campaign([{"phone_number": n} for n in numbers],
                                     max_concurrent_calls=5, calls_per_minute=2)  # fmt: skip
    assert (await org.act(campaign_id, "start")).status_code == 200
    await _until(lambda: _dialed(env, numbers) == 2)
    await asyncio.sleep(0.8)
    assert _dialed(env, numbers) == 2
    env.clock.advance(61)
    await _until(lambda: _dialed(env, numbers) == 4)
    await asyncio.sleep(0.5)
    assert _dialed(env, numbers) == 4
    env.clock.advance(61)
    await org.wait_state(campaign_id, "completed")


async def test_retry_backoff_waits_on_the_clock(env: Env) -> None:
    org = await Org(env.http).setup()
    [number] = _numbers("+1606555", 1)
    env.carrier.script[number] = ["busy", "answered"]
    campaign_id = await org.campaign([{"phone_number": number}],
                                     retry={"retry_on": ["busy"], "backoff_seconds": 600})  # fmt: skip
    assert (await org.act(campaign_id, "start")).status_code == 200
    await _until(lambda: len(env.fake.dialed(number)) == 1)
    await asyncio.sleep(1.0)
    [contact] = await org.contacts(campaign_id)
    assert contact["state"] == "pending" and contact["last_outcome"] == "busy"
    assert len(env.fake.dialed(number)) == 1
    env.clock.advance(601)
    done = await org.wait_state(campaign_id, "completed")
    assert done["progress"]["states"]["completed"] == 1
    assert len(env.fake.dialed(number)) == 2
    env.clock.set(MONDAY_NOON)


def _dialed(env: Env, numbers: list[str]) -> int:
    return sum(len(env.fake.dialed(n)) for n in numbers)


async def _until(predicate: Any, timeout: float = 30) -> None:
    async def wait() -> None:
        while not predicate():
            await asyncio.sleep(0.05)

    await asyncio.wait_for(wait(), timeout)


del Counter


async def test_progress_cost_from_the_calls_usage(env: Env) -> None:
    org = await Org(env.http).setup()
    numbers = _numbers("+1302555", 2)
    campaign_id = await org.campaign([{"phone_number": n} for n in numbers])
    assert (await org.act(campaign_id, "start")).status_code == 200
    done = await org.wait_state(campaign_id, "completed", timeout=60)
    assert done["progress"]["cost"] == 0 and done["progress"]["currency"] == "EUR"
    # the usage the calls recorded (a media call records its own; these calls had none)
    db, org_id = env.live.services.db, UUID(org.org)
    for contact in await org.contacts(campaign_id):
        call_id = UUID(contact["calls"][0]["call_id"])
        await usage_db.upsert_for_call(db, org_id, call_id, None, [
            ("call_seconds", "twilio", "", 90.0), ("stt_seconds", "deepgram", "nova-3", 60.0),
            ("tts_characters", "unpriced", "", 500.0)])  # fmt: skip
    progress = (await org.get(campaign_id))["progress"]
    # per call: 1.5 min x 0.6 + 1 min x 0.3 = 1.2 (the unpriced provider adds 0)
    assert progress["cost"] == pytest.approx(2.4)
    # the same estimate as each call's own
    call = await env.http.get(f"/api/v1/calls/{call_id}", headers=org.headers)
    assert call.json()["cost"] == pytest.approx(1.2) and call.json()["currency"] == "EUR"
    # and per contact in the results CSV
    csv = await env.http.get(f"/api/v1/campaigns/{campaign_id}/results.csv", headers=org.headers)
    rows = list(DictReader(io.StringIO(csv.text)))
    assert [float(r["cost"]) for r in rows] == [pytest.approx(1.2)] * 2
