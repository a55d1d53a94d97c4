"""Two server instances sharing PostgreSQL and Redis: the concurrent-call limit holds across
the fleet, and hang-up reaches a call living on the other instance (Redis pub/sub)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from db import calls as calls_db
from loadgen.callers.twilio import MediaStream, TwilioEmulator, parse_twiml, stream_of
from tests.conftest import make_settings, run_server
from tests.fakes.carriers.twilio_rest import FakeTwilioRest

pytestmark = pytest.mark.redis

PUBLIC = "https://fleet.example.test"
SID = "AC" + "9" * 32
TOKEN = "fleet-auth-token"
WORKFLOW = {
    "nodes": [
        {"id": "start", "type": "start", "greeting": "Hello, this is the fleet line.",
         "say": "How can I help you?"},
        {"id": "bye", "type": "end", "say": "Goodbye."},
    ],
    "edges": [{"from": "start", "to": "bye", "condition": "goodbye bye"}],
}  # fmt: skip


@pytest.fixture(scope="module")
async def fleet(
    database_url: str, data_dir: Any, redis_url: str, redis_prefix: str
) -> AsyncIterator[list[Any]]:
    async with FakeTwilioRest(SID, TOKEN) as fake:
        settings = make_settings(
            database_url, data_dir, public_url=PUBLIC, redis_url=redis_url,
            redis_prefix=redis_prefix, twilio_api_base_url=fake.http_url,
        )  # fmt: skip
        async with run_server(settings) as a, run_server(settings) as b:
            yield [a, b, fake]


async def test_limit_and_hangup_across_instances(fleet: list[Any]) -> None:
    a, b, fake = fleet
    async with (
        httpx.AsyncClient(base_url=a.url, timeout=30) as http_a,
        httpx.AsyncClient(base_url=b.url, timeout=30) as http_b,
    ):
        r = await http_a.post("/api/v1/auth/signup", json={
            "email": f"fleet-{uuid.uuid4().hex[:8]}@example.com",
            "password": "correct horse battery"})  # fmt: skip
        headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
        org = uuid.UUID(r.json()["organization_id"])
        r = await http_a.patch("/api/v1/organization", json={"max_concurrent_calls": 1},
                               headers=headers)  # fmt: skip
        assert r.status_code == 200, r.text
        wf = (await http_a.post("/api/v1/workflows", headers=headers,
                                json={"name": "f", "definition": WORKFLOW})).json()["id"]  # fmt: skip
        assert (await http_a.post(f"/api/v1/workflows/{wf}/publish", json={},
                                  headers=headers)).status_code == 201  # fmt: skip
        acct = await http_a.post("/api/v1/carriers", headers=headers, json={
            "carrier": "twilio", "name": "t",
            "credentials": {"account_sid": SID, "auth_token": TOKEN}})  # fmt: skip
        number = f"+1415888{uuid.uuid4().int % 10000:04d}"
        pn = await http_a.post("/api/v1/phone-numbers", headers=headers, json={
            "number": number, "carrier_account_id": acct.json()["id"], "workflow_id": wf})  # fmt: skip
        assert pn.status_code == 201, pn.text

        on_a = TwilioEmulator(a.url, PUBLIC, SID, TOKEN)
        on_b = TwilioEmulator(b.url, PUBLIC, SID, TOKEN)
        call_sid = "CA" + uuid.uuid4().hex
        fake.add_call(call_sid, number, "+14155550100")
        r = await on_a.voice_webhook(number, "+14155550100", call_sid=call_sid)
        url, params = stream_of(r.text)
        stream = await MediaStream.open(on_a.to_loopback(url), params, call_sid, SID)
        try:
            await stream.wait_for_bot_speech(0.3)
            # the org's single slot is taken on instance A: instance B turns the next call away
            r = await on_b.voice_webhook(number, "+14155550101")
            reject = parse_twiml(r.text).find("Reject")
            assert reject is not None and reject.get("reason") == "busy", r.text
            [call] = [c for c in await calls_db.list_for_org(a.services.db, org, limit=100)
                      if c["carrier_call_id"] == call_sid]  # fmt: skip
            # hang up through instance B: delivered to the live call on instance A
            r = await http_b.post(f"/api/v1/calls/{call['id']}/hangup", headers=headers)
            assert r.status_code == 202 and r.json()["delivered"] == "live", r.text
            await asyncio.wait_for(stream.closed.wait(), 10)
            assert fake.calls[call_sid].status == "completed"  # hung up through Twilio's API
        finally:
            await stream.close()
            await on_a.aclose()

        async def ended() -> Any:
            while True:
                row = await calls_db.get(a.services.db, org, call["id"])
                if row["ended_at"] is not None:
                    return row
                await asyncio.sleep(0.1)

        row = await asyncio.wait_for(ended(), 20)
        assert row["end_reason"] == "ended_by_api"
        # the slot was released fleet-wide: B takes the next call
        r = await on_b.voice_webhook(number, "+14155550102")
        assert parse_twiml(r.text).find("./Connect/Stream") is not None, r.text
        await on_b.aclose()
