"""Inbound calls on Telnyx, Plivo, Vonage and Exotel end to end: a carrier-signed voice
webhook, the carrier's markup, its media websocket in real time, a spoken greeting and a
reply from the real pipeline (offline engines), the call row finalized; forged webhooks
are refused with nothing persisted."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx
import pytest

from db import calls as calls_db
from loadgen.callers.carriers import (
    CALLERS,
    CarrierStream,
    ExotelCaller,
    PlivoCaller,
    TelnyxCaller,
    vonage_rest_credentials,
)
from server.billing.plans import change_plan
from telephony.registry import carrier_class
from tests.conftest import LiveServer, make_settings, run_server
from tests.fakes.carriers.rest import FakeCarrierRest

PUBLIC = "https://carriers.example.test"
WORKFLOW = {
    "nodes": [
        {"id": "start", "type": "start", "greeting": "Hello, this is the booking line.",
         "say": "How can I help you?"},
        {"id": "booking", "type": "agent", "say": "Sure, for how many people?"},
        {"id": "bye", "type": "end", "say": "Goodbye."},
    ],
    "edges": [{"from": "start", "to": "booking", "condition": "hello book table"},
              {"from": "booking", "to": "bye", "condition": "goodbye bye"}],
}  # fmt: skip


class Env:
    def __init__(self, server: LiveServer, http: httpx.AsyncClient) -> None:
        self.server, self.http = server, http
        self.headers: dict[str, str] = {}
        self.org = ""
        self.workflow_id = ""
        self.fakes: dict[str, FakeCarrierRest] = {}

    async def add_number(self, carrier: str, credentials: dict[str, str]) -> str:
        acct = await self.http.post("/api/v1/carriers", headers=self.headers, json={
            "carrier": carrier, "name": carrier, "credentials": credentials})  # fmt: skip
        assert acct.status_code == 201, acct.text
        number = f"+1415777{uuid.uuid4().int % 10000:04d}"
        self.fakes[carrier].hold(number)  # the carrier account lists it (number verification)
        pn = await self.http.post("/api/v1/phone-numbers", headers=self.headers, json={
            "number": number, "carrier_account_id": acct.json()["id"],
            "workflow_id": self.workflow_id})  # fmt: skip
        assert pn.status_code == 201, pn.text
        return number

    async def wait_ended(self, call_id: Any) -> Any:
        org = uuid.UUID(self.org)

        async def ended() -> Any:
            while True:
                current = await calls_db.get(self.server.services.db, org, uuid.UUID(str(call_id)))
                if current["ended_at"] is not None:
                    return current
                await asyncio.sleep(0.1)

        return await asyncio.wait_for(ended(), 20)


@pytest.fixture(scope="module")
async def env(database_url: str, data_dir: Any) -> AsyncIterator[Env]:
    # no carrier REST call may leave the machine: carriers go to fakes, Twilio to a closed port
    bases = {f"{c}_api_base_url": "http://127.0.0.1:9" for c in (*CALLERS, "twilio")}
    fakes = {"telnyx": FakeCarrierRest("telnyx", TelnyxCaller.rest_credentials()),
             "exotel": FakeCarrierRest("exotel", ExotelCaller.rest_credentials()),
             "plivo": FakeCarrierRest("plivo", PlivoCaller.rest_credentials()),
             "vonage": FakeCarrierRest("vonage", vonage_rest_credentials())}  # fmt: skip
    for name, fake in fakes.items():
        await fake.start()
        bases[f"{name}_api_base_url"] = fake.http_url
    settings = make_settings(database_url, data_dir, public_url=PUBLIC, **bases)
    async with run_server(settings) as live, httpx.AsyncClient(base_url=live.url, timeout=30) as http:
        e = Env(live, http)
        e.fakes = fakes
        email = f"car-{uuid.uuid4().hex[:8]}@example.com"
        r = await http.post("/api/v1/auth/signup", json={"email": email, "password": "correct horse battery"})
        assert r.status_code == 201, r.text
        e.headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
        e.org = r.json()["organization_id"]
        # a number per carrier and call direction: more than the free plan's 3
        await change_plan(live.services.db, uuid.UUID(e.org), "pro", catalog=live.services.plans)
        wf = await http.post("/api/v1/workflows", headers=e.headers,
                             json={"name": "booking", "definition": WORKFLOW})  # fmt: skip
        e.workflow_id = wf.json()["id"]
        pub = await http.post(f"/api/v1/workflows/{e.workflow_id}/publish", json={}, headers=e.headers)
        assert pub.status_code == 201, pub.text
        yield e
    for fake in fakes.values():
        await fake.stop()


@pytest.mark.parametrize("carrier", sorted(CALLERS))
async def test_inbound_call_on_carrier(env: Env, carrier: str) -> None:
    caller = CALLERS[carrier](public_url=PUBLIC, server_url=env.server.url)
    acct = await env.http.post("/api/v1/carriers", headers=env.headers, json={
        "carrier": carrier, "name": carrier, "credentials": caller.credentials})  # fmt: skip
    assert acct.status_code == 201, acct.text
    number = f"+1415777{uuid.uuid4().int % 10000:04d}"
    env.fakes[carrier].hold(number)  # the carrier account lists it (number verification)
    pn = await env.http.post("/api/v1/phone-numbers", headers=env.headers, json={
        "number": number, "carrier_account_id": acct.json()["id"],
        "workflow_id": env.workflow_id})  # fmt: skip
    assert pn.status_code == 201, pn.text
    org = uuid.UUID(env.org)
    before = len(await calls_db.list_for_org(env.server.services.db, org, limit=1000))

    def send(request: dict[str, Any]) -> Any:
        request = dict(request)
        request["url"] = caller.loopback(request["url"])
        return env.http.request(**request)

    forged = await send(caller.webhook(number, "+14155550100", forge=True))
    assert forged.status_code == 403
    assert len(await calls_db.list_for_org(env.server.services.db, org, limit=1000)) == before

    r = await send(caller.webhook(number, "+14155550100"))
    assert r.status_code == 200, r.text
    url, headers = caller.stream_target(r)
    assert url.startswith(f"wss://carriers.example.test/telephony/{carrier}/stream")
    stream = await CarrierStream.open(caller, url, headers)
    try:
        await stream.wait_for_bot_speech(0.5)  # the greeting
        await asyncio.sleep(2.5)
        await stream.say("Hello, I would like to book a table.")
        await stream.wait_for_bot_speech(0.4)  # the reply
    finally:
        await stream.close()
    # the bot's audio comes in the messages the carrier documents (Exotel: at least 100 ms;
    # Vonage: one 20 ms frame each), whatever the TTS chunks were
    [(chunk_ms, _)] = stream.bot_message_ms.most_common(1)
    assert chunk_ms == carrier_class(carrier).media_out_chunk_ms, stream.bot_message_ms
    rows = await calls_db.list_for_org(env.server.services.db, org, limit=1000)
    [row] = [c for c in rows if c["to_number"] == number]
    assert row["carrier"] == carrier and row["direction"] == "inbound"

    async def ended() -> Any:
        while True:
            current = await calls_db.get(env.server.services.db, org, row["id"])
            if current["ended_at"] is not None:
                return current
            await asyncio.sleep(0.1)

    final = await asyncio.wait_for(ended(), 20)
    assert final["status"] == "completed" and final["answered_at"] is not None
    turns = await calls_db.list_turns(env.server.services.db, org, row["id"])
    assert [t["speaker"] for t in turns].count("agent") >= 2


@pytest.mark.parametrize("carrier", ["exotel", "telnyx"])
async def test_outbound_call_on_carrier(env: Env, carrier: str) -> None:
    caller = CALLERS[carrier](public_url=PUBLIC, server_url=env.server.url)
    number = await env.add_number(carrier, caller.credentials)
    fake = env.fakes[carrier]
    r = await env.http.post("/api/v1/calls", headers=env.headers, json={
        "to": "+14155550123", "from": number, "workflow_id": env.workflow_id})  # fmt: skip
    assert r.status_code == 201, r.text
    call = r.json()
    caller.call_id = call["carrier_call_id"]
    dial = fake.requests[-1]
    if carrier == "telnyx":  # the media stream URL (with its token) travels in the dial request
        url, headers = dial.body["stream_url"], {}
        assert dial.body["to"] == "+14155550123" and dial.body["from"] == number
    else:  # Exotel's Voicebot applet fetches the stream URL from our voice endpoint
        assert dial.body["From"] == "+14155550123" and dial.body["CallerId"] == number
        answer = await env.http.get(caller.loopback(caller.voice_url()), params={
            "CallSid": caller.call_id, "CallFrom": "+14155550123", "CallTo": number},
            auth=(caller.credentials["api_key"], caller.credentials["api_token"]))  # fmt: skip
        assert answer.status_code == 200, answer.text
        url, headers = caller.stream_target(answer)
    stream = await CarrierStream.open(caller, url, headers)
    try:
        await stream.wait_for_bot_speech(0.5)
        r = await env.http.post(f"/api/v1/calls/{call['id']}/hangup", headers=env.headers)
        assert r.status_code == 202 and r.json()["delivered"] == "live"
    finally:
        await stream.close()
    final = await env.wait_ended(call["id"])
    assert final["end_reason"] == "ended_by_api" and final["answered_at"] is not None
    if carrier == "telnyx":
        assert fake.requests[-1].path == f"/v2/calls/{caller.call_id}/actions/hangup"
    else:  # Exotel's status callback authenticates with the user info of the URL we gave it
        status = urlsplit(dial.body["StatusCallback"])
        auth = (unquote(status.username or ""), unquote(status.password or ""))
        r = await env.http.post(caller.loopback(dial.body["StatusCallback"]), auth=auth,
                                data={"CallSid": caller.call_id, "Status": "completed"})  # fmt: skip
        assert r.status_code == 204, r.text


@pytest.mark.parametrize("carrier", ["plivo", "vonage"])
async def test_outbound_call_answer_and_status_callbacks(env: Env, carrier: str) -> None:
    """The carrier fetches our answer URL (signed), streams, then reports the call completed
    on the signed status callback, which ends the live call."""
    caller = CALLERS[carrier](public_url=PUBLIC, server_url=env.server.url)
    number = await env.add_number(carrier, caller.credentials)
    r = await env.http.post("/api/v1/calls", headers=env.headers, json={
        "to": "+14155550123", "from": number, "workflow_id": env.workflow_id})  # fmt: skip
    assert r.status_code == 201, r.text
    call = r.json()
    caller.call_id = call["carrier_call_id"]
    dial = env.fakes[carrier].requests[-1].body
    if carrier == "plivo":
        answer_url, status_url = dial["answer_url"], dial["hangup_url"]
        answer_body = {
            "CallUUID": caller.call_id,
            "From": number.lstrip("+"),
            "To": "14155550123",
            "CallStatus": "in-progress",
            "Direction": "outbound",
        }
        ringing = {"CallUUID": caller.call_id, "CallStatus": "ringing"}
        done = {"CallUUID": caller.call_id, "CallStatus": "completed", "Duration": "3"}
    else:
        answer_url, status_url = dial["answer_url"][0], dial["event_url"][0]
        answer_body = {
            "uuid": caller.call_id,
            "conversation_uuid": "CON-1",
            "from": number.lstrip("+"),
            "to": "14155550123",
        }
        ringing = {"uuid": caller.call_id, "status": "ringing"}
        done = {"uuid": caller.call_id, "status": "completed", "duration": "3"}  # fmt: skip
    assert answer_url.startswith(f"{PUBLIC}/telephony/{carrier}/answer?call={call['id']}")

    def send(request: dict[str, Any]) -> Any:
        return env.http.request(**{**request, "url": caller.loopback(request["url"])})

    forged = await send(caller.signed_post(status_url, ringing, forge=True))
    assert forged.status_code == 403
    assert (await send(caller.signed_post(status_url, ringing))).status_code == 204
    row = await calls_db.get(env.server.services.db, uuid.UUID(env.org), uuid.UUID(call["id"]))
    assert row["status"] == "ringing"
    answered = await send(caller.signed_post(answer_url, answer_body))
    assert answered.status_code == 200, answered.text
    url, headers = caller.stream_target(answered)
    stream = await CarrierStream.open(caller, url, headers)
    try:
        await stream.wait_for_bot_speech(0.5)
        assert (await send(caller.signed_post(status_url, done))).status_code == 204
        final = await env.wait_ended(call["id"])
    finally:
        await stream.close()
    assert (final["status"], final["end_reason"]) == ("completed", "completed")
