"""A scripted carrier for campaign tests: watches the fake Twilio REST server for dials and
plays each one's scripted outcome back through signed status callbacks (the Twilio
emulator), the way Twilio would."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from db import carriers as carriers_db
from loadgen.callers.twilio import MediaStream, TwilioEmulator, stream_of
from tests.conftest import LiveServer, fresh_database, make_settings, run_server
from tests.fakes.carriers.twilio_rest import FakeCall, FakeTwilioRest

PUBLIC = "https://campaigns.example.test"
SID = "AC" + "c" * 32
TOKEN = "campaign-twilio-auth-token"

WORKFLOW = {
    "nodes": [
        {
            "id": "start",
            "type": "start",
            "greeting": "Hello {{first_name}}, a reminder.",
            "say": "This is a reminder about your visit.",
        },
        {"id": "bye", "type": "end", "say": "Goodbye."},
    ],
    "edges": [{"from": "start", "to": "bye", "condition": "bye goodbye"}],
    "inputs": [{"name": "first_name", "default": "there"}],
}


@dataclass
class ScriptedCarrier:
    """``script[number]`` lists the outcome of each successive dial of ``number``: answered,
    busy, no-answer, failed, voicemail, media (a real media stream), media-opt-out (default:
    answered). ``ringing`` seconds pass before
    the outcome, so calls overlap."""

    fake: FakeTwilioRest
    twilio: TwilioEmulator
    script: dict[str, list[str]] = field(default_factory=dict)
    ringing: float = 0.15
    seen: set[str] = field(default_factory=set)
    outcomes: list[tuple[str, str]] = field(default_factory=list)  # (number, outcome) played
    hold: set[str] = field(default_factory=set)  # numbers whose calls are left up
    media_calls: list[str] = field(default_factory=list)  # sids answered with real media
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    # the server's database: a call is played once the server has stored its carrier call id
    # (Twilio's own callbacks come seconds later; the fake's would otherwise race the dial)
    db: Any = None
    redeliver_for: int = 0  # seconds a callback is re-sent while the server is down

    def next_outcome(self, number: str) -> str:
        played = sum(1 for n, _ in self.outcomes if n == number)
        plan = self.script.get(number, [])
        return plan[played] if played < len(plan) else "answered"

    async def run(self) -> None:
        while True:
            for sid, call in list(self.fake.calls.items()):
                if sid not in self.seen:
                    self.seen.add(sid)
                    task = asyncio.create_task(self._play(call))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
            await asyncio.sleep(0.02)

    async def _play(self, call: FakeCall) -> None:
        if call.to in self.hold:
            return
        if self.db is not None:
            for _ in range(600):
                if await carriers_db.find_call_by_carrier_id(self.db, "twilio", call.sid):
                    break
                await asyncio.sleep(0.05)
        await self.play(call)

    async def play(self, call: FakeCall) -> None:
        """Play the next scripted outcome of ``call`` through its status callbacks."""
        outcome = self.next_outcome(call.to)
        self.outcomes.append((call.to, outcome))
        status_url = call.params["StatusCallback"][0]
        await asyncio.sleep(self.ringing)
        post = self.post
        base = {"CallSid": call.sid, "AccountSid": SID}
        if outcome in ("busy", "no-answer", "failed"):
            await post(status_url, {**base, "CallStatus": outcome})
        elif outcome == "voicemail":
            await post(status_url, {**base, "CallStatus": "in-progress"})
            amd = call.params["AsyncAmdStatusCallback"][0]
            await post(amd, {**base, "AnsweredBy": "machine_start"})
            await post(status_url, {**base, "CallStatus": "completed"})
        elif outcome.startswith("media"):
            await self._media(call, status_url, base, outcome)
        else:
            await post(status_url, {**base, "CallStatus": "in-progress"})
            await asyncio.sleep(self.ringing)
            await post(status_url, {**base, "CallStatus": "completed"})
        self.fake.finish(call.sid, "completed" if outcome in ("answered", "voicemail") else outcome)

    async def post(self, public_url: str, form: dict[str, str]) -> httpx.Response:
        """A signed callback, sent again while the server does not answer (a process being
        restarted): the carrier keeps the call's events until someone hears them."""
        for _ in range(self.redeliver_for * 5):
            try:
                return await self.twilio.signed_post(public_url, form)
            except httpx.TransportError:
                await asyncio.sleep(0.2)
        return await self.twilio.signed_post(public_url, form)

    async def _media(self, call: FakeCall, status_url: str, base: dict[str, str],
                     outcome: str) -> None:  # fmt: skip
        """Answered by a person: the answer webhook's TwiML, a real media stream (the
        greeting is heard; ``media-opt-out`` asks not to be called again), then hang up."""
        r = await self.twilio.signed_post(call.params["Url"][0], {**base, "CallStatus": "in-progress"})
        assert r.status_code == 200, r.text
        url, params = stream_of(r.text)
        stream = await MediaStream.open(self.twilio.to_loopback(url), params, call.sid, SID)
        try:
            await stream.wait_for_bot_speech(0.3, timeout=60)
            await stream.wait_bot_quiet(timeout=60)
            if outcome == "media-opt-out":
                mark = len(stream.bot_audio)
                await stream.say("Please stop calling me and remove my number.")
                while len(stream.bot_audio) - mark < 0.3 * 8000:
                    await asyncio.sleep(0.05)
                await stream.wait_bot_quiet(timeout=60)
            self.media_calls.append(call.sid)
            await stream.stop()
        finally:
            await stream.close()
        await self.twilio.signed_post(status_url, {**base, "CallStatus": "completed"})


class Org:
    """A signed-up organization with a published workflow, a Twilio account and numbers."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.headers: dict[str, str] = {}
        self.org = ""
        self.workflow_id = ""
        self.numbers: list[str] = []

    async def setup(self, callers: int = 2) -> Org:
        r = await self.http.post("/api/v1/auth/signup", json={
            "email": f"camp-{uuid.uuid4().hex[:8]}@example.com",
            "password": "correct horse battery"})  # fmt: skip
        assert r.status_code == 201, r.text
        self.headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
        self.org = r.json()["organization_id"]
        wf = await self.http.post("/api/v1/workflows", headers=self.headers,
                                  json={"name": "reminder", "definition": WORKFLOW})  # fmt: skip
        assert wf.status_code == 201, wf.text
        self.workflow_id = wf.json()["id"]
        pub = await self.http.post(f"/api/v1/workflows/{self.workflow_id}/publish", json={},
                                   headers=self.headers)  # fmt: skip
        assert pub.status_code == 201, pub.text
        acct = await self.http.post("/api/v1/carriers", headers=self.headers, json={
            "carrier": "twilio", "name": "main",
            "credentials": {"account_sid": SID, "auth_token": TOKEN}})  # fmt: skip
        assert acct.status_code == 201, acct.text
        for _ in range(callers):
            number = f"+1415777{uuid.uuid4().int % 10000:04d}"
            pn = await self.http.post("/api/v1/phone-numbers", headers=self.headers, json={
                "number": number, "carrier_account_id": acct.json()["id"],
                "workflow_id": self.workflow_id})  # fmt: skip
            assert pn.status_code == 201, pn.text
            self.numbers.append(number)
        return self

    async def campaign(self, contacts: list[dict[str, Any]], **config: Any) -> str:
        body = {
            "name": "test",
            "workflow_id": self.workflow_id,
            "caller_ids": self.numbers,
            "max_concurrent_calls": 3,
            "calls_per_minute": 6000,
            **config,
        }
        r = await self.http.post("/api/v1/campaigns", json=body, headers=self.headers)
        assert r.status_code == 201, r.text
        campaign_id = r.json()["id"]
        r = await self.http.post(f"/api/v1/campaigns/{campaign_id}/contacts",
                                 json={"contacts": contacts}, headers=self.headers)  # fmt: skip
        assert r.status_code == 200 and r.json()["imported"] == len(contacts), r.text
        return str(campaign_id)

    async def act(self, campaign_id: str, action: str) -> httpx.Response:
        return await self.http.post(f"/api/v1/campaigns/{campaign_id}/{action}",
                                    headers=self.headers)  # fmt: skip

    async def get(self, campaign_id: str) -> dict[str, Any]:
        r = await self.http.get(f"/api/v1/campaigns/{campaign_id}", headers=self.headers)
        assert r.status_code == 200, r.text
        return dict(r.json())

    async def contacts(self, campaign_id: str) -> list[dict[str, Any]]:
        r = await self.http.get(f"/api/v1/campaigns/{campaign_id}/contacts",
                                params={"limit": 500}, headers=self.headers)  # fmt: skip
        assert r.status_code == 200, r.text
        return list(r.json()["items"])

    async def wait_state(self, campaign_id: str, state: str, timeout: float = 60) -> dict[str, Any]:
        async def reached() -> dict[str, Any]:
            while True:
                found = await self.get(campaign_id)
                if found["state"] == state:
                    return found
                await asyncio.sleep(0.1)

        return await asyncio.wait_for(reached(), timeout)


@contextlib.asynccontextmanager
async def instance(database_url: str, data_dir: Any, fake: FakeTwilioRest,
                   **overrides: Any) -> AsyncIterator[LiveServer]:  # fmt: skip
    """One server instance (several may share the database) talking to ``fake``."""
    values: dict[str, Any] = {
        "public_url": PUBLIC,
        "twilio_api_base_url": fake.http_url,
        "campaign_tick_seconds": 0.1,
        "campaign_dial_lease_seconds": 2.0,
    }
    settings = make_settings(database_url, data_dir, **{**values, **overrides})
    async with run_server(settings) as live:
        yield live


@contextlib.asynccontextmanager
async def carrier(fake: FakeTwilioRest, server_url: str,
                  db: Any = None) -> AsyncIterator[ScriptedCarrier]:  # fmt: skip
    twilio = TwilioEmulator(server_url, PUBLIC, SID, TOKEN)
    scripted = ScriptedCarrier(fake, twilio, db=db)
    task = asyncio.create_task(scripted.run())
    try:
        yield scripted
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        for t in list(scripted._tasks):
            t.cancel()
        await twilio.aclose()


@pytest.fixture(scope="module", name="database_url")
async def own_database_url(database_url: str) -> AsyncIterator[str]:
    """The module's own database (import this fixture into a campaign test module): every
    instance dispatches every running campaign of its database, so the session's other
    servers (on their own fake-less carrier settings) must never see this module's
    campaigns. The fleet keys are the session's (same data directory)."""
    async with fresh_database(database_url, "sb_campaigns") as url:
        yield url
