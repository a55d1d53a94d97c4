"""A server behind a PUBLIC_URL with a Twilio account (fake REST API), a published workflow
and a number: what the phone-call security tests attack."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from db import calls as calls_db
from loadgen.callers.twilio import TwilioEmulator
from tests.conftest import LiveServer, make_settings, run_server
from tests.fakes.carriers.twilio_rest import FakeTwilioRest

PUBLIC = "https://security.example.test"
SID = "AC" + "5" * 32
TOKEN = "security-twilio-auth-token"
WORKFLOW = {
    "nodes": [{"id": "start", "type": "start", "greeting": "Hello.", "say": "How can I help?"},
              {"id": "bye", "type": "end", "say": "Goodbye."}],
    "edges": [{"from": "start", "to": "bye", "condition": "goodbye bye"}],
}  # fmt: skip


@dataclass
class PhoneEnv:
    server: LiveServer
    fake: FakeTwilioRest
    http: httpx.AsyncClient
    twilio: TwilioEmulator
    headers: dict[str, str]
    org: str
    workflow_id: str
    number: str

    @property
    def db(self) -> Any:
        return self.server.services.db

    async def call(self, call_id: str) -> Any:
        return await calls_db.get(self.db, uuid.UUID(self.org), uuid.UUID(str(call_id)))

    async def calls(self) -> list[Any]:
        return list(await calls_db.list_for_org(self.db, uuid.UUID(self.org), limit=1000))

    async def dial(self) -> dict[str, Any]:
        r = await self.http.post("/api/v1/calls", headers=self.headers, json={
            "to": "+14155550123", "workflow_id": self.workflow_id})  # fmt: skip
        assert r.status_code == 201, r.text
        return r.json()


async def _tenant(http: httpx.AsyncClient) -> tuple[dict[str, str], str, str, str]:
    """Sign up; a published workflow, a Twilio account and a number: (headers, org, workflow, number)."""
    email = f"sec-{uuid.uuid4().hex[:8]}@example.com"
    r = await http.post("/api/v1/auth/signup", json={"email": email, "password": "correct horse battery"})
    assert r.status_code == 201, r.text
    headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
    wf = await http.post("/api/v1/workflows", headers=headers, json={"name": "sec", "definition": WORKFLOW})
    workflow_id = wf.json()["id"]
    pub = await http.post(f"/api/v1/workflows/{workflow_id}/publish", json={}, headers=headers)
    assert pub.status_code == 201, pub.text
    credentials = {"account_sid": SID, "auth_token": TOKEN}
    acct = await http.post("/api/v1/carriers", headers=headers,
                           json={"carrier": "twilio", "name": "main", "credentials": credentials})
    assert acct.status_code == 201, acct.text
    number = f"+1415888{uuid.uuid4().int % 10000:04d}"
    pn = await http.post("/api/v1/phone-numbers", headers=headers, json={
        "number": number, "carrier_account_id": acct.json()["id"], "workflow_id": workflow_id})  # fmt: skip
    assert pn.status_code == 201, pn.text
    return headers, r.json()["organization_id"], workflow_id, number


@contextlib.asynccontextmanager
async def phone_env(database_url: str, data_dir: Path, **settings: Any) -> AsyncIterator[PhoneEnv]:
    async with FakeTwilioRest(SID, TOKEN) as fake:
        config = make_settings(database_url, data_dir, public_url=PUBLIC,
                               twilio_api_base_url=fake.http_url, **settings)  # fmt: skip
        async with run_server(config) as live, httpx.AsyncClient(base_url=live.url, timeout=30) as http:
            headers, org, workflow_id, number = await _tenant(http)
            twilio = TwilioEmulator(live.url, PUBLIC, SID, TOKEN)
            try:
                yield PhoneEnv(live, fake, http, twilio, headers, org, workflow_id, number)
            finally:
                await twilio.aclose()
