"""One server for the offline full-call tests (WebRTC and the Twilio emulator), with every
shipped template published in an organization of each test module.

The server is a ``switchboard serve`` process of its own, as in production (and as the fleet
tests run it): in the pytest process it shared the event loop, the GIL and the espeak-ng
engine with the callers, which pace 20 ms audio frames, and after the suite's earlier
packages that loop stalled for up to ~260 ms."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from cryptography.hazmat.primitives import serialization

from db.crypto import load_or_create_key
from db.pool import create_pool
from runtime.templates import TEMPLATES
from server.auth.tokens import load_private_key
from tests.conftest import CARRIER_APIS, CLOSED_PORT_URL
from tests.fakes.carriers.twilio_rest import FakeTwilioRest
from tests.realtime.fleet.harness import SWITCHBOARD, Process, base_env, free_port
from tests.realtime.offline.calls import SCRIPTS, VOICES
from tests.realtime.offline.speech import CallerSpeech

PUBLIC = "https://offline.example.test"
SID = "AC" + "5" * 32
TOKEN = "offline-twilio-auth-token"
LOG_TAIL = 6000  # characters of the server's log shown with a failure


@dataclass
class Org:
    """A signed-up organization with every template published (and a number for each)."""

    id: str
    headers: dict[str, str]
    workflows: dict[str, str] = field(default_factory=dict)  # template -> workflow id
    numbers: dict[str, str] = field(default_factory=dict)  # template -> phone number


@dataclass
class OfflineServer:
    server: Process  # ``switchboard serve``; ``server.log`` is its output
    http: httpx.AsyncClient
    db: asyncpg.Pool  # the tests' own connections to the server's database

    def log_tail(self) -> str:
        return self.server.log[-LOG_TAIL:]

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
            await self.set_plan(org.id, "pro")
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

    async def set_plan(self, organization_id: str, plan: str) -> None:
        """``switchboard set-plan``, the operator's command, with the server's settings."""
        proc = await asyncio.create_subprocess_exec(
            str(SWITCHBOARD), "set-plan", "--org", organization_id, "--plan", plan,
            env=self.server.env, cwd=self.server.data_dir,  # no developer .env is read
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        output, _ = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 0, output.decode(errors="replace")


def _instance_keys(data_dir: Path) -> dict[str, str]:
    """The keys the session's in-process servers use (generated once into ``data_dir``): the
    database refuses an instance with others (docs/FLEET.md), in whichever order they start."""
    pem = load_private_key(None, data_dir).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode()  # fmt: skip
    return {"jwt_private_key": pem, "secret_keys": load_or_create_key(None, data_dir)}


@pytest.fixture(scope="package")
def caller_speech() -> CallerSpeech:
    """Every caller's lines in its voice, the same audio in every run (``speech.py``)."""
    return CallerSpeech((line, voice, wpm) for script, (voice, wpm) in zip(SCRIPTS, VOICES, strict=True)
                        for line in script.lines)  # fmt: skip


@pytest.fixture(scope="package")
async def offline_server(database_url: str, data_dir: Path) -> AsyncIterator[OfflineServer]:
    async with FakeTwilioRest(SID, TOKEN) as fake:
        # tests/conftest.py's make_settings, as environment variables
        env = base_env(**_instance_keys(data_dir), env="test", database_url=database_url,
                       log_level="warning", shutdown_grace_seconds=2.0,
                       call_lost_after_seconds=3600.0, allow_private_urls="true",
                       public_url=PUBLIC,
                       **{f"{c}_api_base_url": CLOSED_PORT_URL for c in CARRIER_APIS
                          if c != "twilio"},
                       twilio_api_base_url=fake.http_url)  # fmt: skip
        server = Process("serve", ["serve"], env, data_dir / f"offline-{uuid.uuid4().hex[:6]}",
                         free_port())  # fmt: skip
        await server.start()
        try:
            await server.ready()
            pool = await create_pool(database_url, min_size=1, max_size=2)
            try:
                async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
                    await _warm(http, server)
                    yield OfflineServer(server, http, pool)
            finally:
                await pool.close()
        finally:
            await server.stop()  # SIGTERM; SIGKILL if still running after 30 s


async def _warm(http: httpx.AsyncClient, server: Process, timeout: float = 120.0) -> None:
    """Wait for the start-up warm-up, as a load balancer would (``/health/ready``). Calls
    placed during it compete with model loading and its closing ``gc.collect()``: the
    callers' speech is then handled late and PocketSphinx mishears it."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not (await http.get("/health/ready")).json().get("warm"):
        assert asyncio.get_running_loop().time() < deadline, f"server not warm:\n{server.log[-LOG_TAIL:]}"
        await asyncio.sleep(0.1)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[Any, Any, None]:
    """A failed test shows the tail of the server's log (its own process: not captured)."""
    outcome = yield
    report = outcome.get_result()
    env = getattr(item, "funcargs", {}).get("offline_server")
    if report.failed and isinstance(env, OfflineServer):
        report.sections.append(("switchboard serve log (tail)", env.log_tail() or "(empty)"))
