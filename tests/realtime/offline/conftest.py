"""One server for the offline full-call tests (WebRTC and the Twilio emulator), with every
shipped template published in an organization of each test module."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from runtime.templates import TEMPLATES
from server.billing.plans import change_plan
from tests.conftest import LiveServer, make_settings, run_server
from tests.fakes.carriers.twilio_rest import FakeTwilioRest

PUBLIC = "https://offline.example.test"
SID = "AC" + "5" * 32
TOKEN = "offline-twilio-auth-token"


@dataclass
class Org:
    """A signed-up organization with every template published (and a number for each)."""

    id: str
    headers: dict[str, str]
    workflows: dict[str, str] = field(default_factory=dict)  # template -> workflow id
    numbers: dict[str, str] = field(default_factory=dict)  # template -> phone number


@dataclass
class OfflineServer:
    server: LiveServer
    http: httpx.AsyncClient

    async def organization(self, *, phone: bool) -> Org:
        email = f"offline-{uuid.uuid4().hex[:8]}@example.com"
        r = await self.http.post("/api/v1/auth/signup",
                                 json={"email": email, "password": "correct horse battery"})  # fmt: skip
        assert r.status_code == 201, r.text
        body = r.json()
        org = Org(id=body["organization_id"],
                  headers={"Authorization": f"Bearer {body['access_token']}"})
        account = ""
        if phone:  # a number per template: more than the free plan's three
            await change_plan(self.server.services.db, uuid.UUID(org.id), "pro",
                              catalog=self.server.services.plans)  # fmt: skip
            acct = await self.http.post("/api/v1/carriers", headers=org.headers, json={
                "carrier": "twilio", "name": "main",
                "credentials": {"account_sid": SID, "auth_token": TOKEN}})  # fmt: skip
            assert acct.status_code == 201, acct.text
            account = acct.json()["id"]
        for name, template in TEMPLATES.items():
            # Built against the loopback URL so the order tools reach the demo order service.
            definition: dict[str, Any] = template.build(self.server.url)
            wf = await self.http.post("/api/v1/workflows", headers=org.headers,
                                      json={"name": name, "definition": definition})  # fmt: skip
            assert wf.status_code == 201, wf.text
            workflow_id = wf.json()["id"]
            pub = await self.http.post(f"/api/v1/workflows/{workflow_id}/publish", json={},
                                       headers=org.headers)  # fmt: skip
            assert pub.status_code == 201, pub.text
            org.workflows[name] = workflow_id
            if phone:
                number = f"+1415777{uuid.uuid4().int % 10000:04d}"
                pn = await self.http.post("/api/v1/phone-numbers", headers=org.headers, json={
                    "number": number, "carrier_account_id": account,
                    "workflow_id": workflow_id})  # fmt: skip
                assert pn.status_code == 201, pn.text
                org.numbers[name] = number
        return org


@pytest.fixture(scope="package")
async def offline_server(database_url: str, data_dir: Any) -> AsyncIterator[OfflineServer]:
    async with FakeTwilioRest(SID, TOKEN) as fake:
        settings = make_settings(database_url, data_dir, public_url=PUBLIC,
                                 twilio_api_base_url=fake.http_url)  # fmt: skip
        async with run_server(settings) as live, httpx.AsyncClient(base_url=live.url,
                                                                   timeout=30) as http:  # fmt: skip
            await _warm(http)
            yield OfflineServer(live, http)


async def _warm(http: httpx.AsyncClient, timeout: float = 120.0) -> None:
    """Wait for the start-up warm-up, as a load balancer would (``/health/ready``). Calls
    placed during it share the loop with model loading and its closing ``gc.collect()``,
    which in a test process that has run the suite before stalls the loop for hundreds of
    milliseconds: the callers' speech then arrives late and PocketSphinx mishears it."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not (await http.get("/health/ready")).json().get("warm"):
        assert asyncio.get_running_loop().time() < deadline, "server not warm"
        await asyncio.sleep(0.1)
