"""Finding 1: HTTP tools reached internal addresses (default on, IDNA mismatch, rebinding).

An organization admin defines a GET tool and triggers it over text chat; the offline engine
calls it when the message shares a word with its description and returns the response in
``tool_calls[].result``. Each test aims the tool at a loopback server holding a secret and
checks the secret never comes back.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web

from runtime.templates import order_desk
from server.settings import Settings
from tests.conftest import run_server
from tests.fakes import LoopbackServer
from tests.security.conftest import PUBLIC, ConnectGuard, FakeDns

pytestmark = pytest.mark.integration

SECRET = "internal-only-7f3a"
# Production, where the old guard did run: these tests are about getting past it.
PRODUCTION: dict[str, Any] = {"env": "production", "public_url": "https://sb.example.com",
                              "signup_policy": "open"}


class InternalService(LoopbackServer):
    """What an attacker wants to read: a service listening on loopback."""

    def __init__(self) -> None:
        super().__init__()
        self.hits = 0
        self.app.router.add_get("/orders", self._get)

    async def _get(self, request: web.Request) -> web.Response:
        self.hits += 1
        return web.json_response({"secret": SECRET})


def _settings(database_url: str, data_dir: Path, **values: Any) -> Settings:
    # No allow_private_urls here: these tests are about the defaults.
    base: dict[str, Any] = {"env": "development", "database_url": database_url,
                            "data_dir": data_dir, "redis_url": None, "log_level": "warning",
                            "shutdown_grace_seconds": 2.0, "warmup": False,
                            "jobs_enabled": False}
    return Settings(_env_file=None, **{**base, **values})  # type: ignore[call-arg]


async def _chat_tool_result(base_url: str, tool_url: str) -> dict[str, Any]:
    """Sign up, save a workflow whose tool calls ``tool_url``, trigger it over chat."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        signup = await http.post("/api/v1/auth/signup", json={
            "email": f"ssrf-{uuid.uuid4().hex[:8]}@example.com", "password": "long enough pw"})
        headers = {"Authorization": f"Bearer {signup.json()['access_token']}"}
        created = await http.post("/api/v1/workflows", headers=headers, json={
            "name": "probe", "definition": order_desk(tool_url=tool_url)})
        assert created.status_code == 201, created.text
        url = f"/api/v1/workflows/{created.json()['id']}/chat"
        first = await http.post(url, json={"message": "about my order"}, headers=headers)
        assert first.status_code == 200, first.text
        sid = first.json()["session_id"]
        turn = await http.post(url, json={"session_id": sid, "message": "it is 42"},
                               headers=headers)
        assert turn.status_code == 200, turn.text
        calls = turn.json()["tool_calls"]
        assert [c["name"] for c in calls] == ["lookup_order"]
        return calls[0]


async def test_loopback_tool_url_is_refused_by_default(database_url, data_dir) -> None:  # type: ignore[no-untyped-def]
    async with InternalService() as internal, run_server(
            _settings(database_url, data_dir)) as live:
        call = await _chat_tool_result(live.url, f"{internal.http_url}/orders")
    assert call["error"] is not None
    assert SECRET not in call["result"] and call["result"].startswith("error:")
    assert internal.hits == 0


async def test_idna_2008_name_is_checked_as_connected(  # type: ignore[no-untyped-def]
        database_url, data_dir, fake_dns: FakeDns, connect_guard: ConnectGuard) -> None:
    # IDNA 2003 maps straße to strasse (public); IDNA 2008, which httpx uses, keeps the ß.
    fake_dns.set("strasse.ssrf.test", PUBLIC)
    fake_dns.set("xn--strae-oqa.ssrf.test", "127.0.0.1")
    async with InternalService() as internal, run_server(
            _settings(database_url, data_dir, **PRODUCTION)) as live:
        call = await _chat_tool_result(live.url,
                                       f"http://straße.ssrf.test:{internal.port}/orders")
    assert SECRET not in call["result"] and call["error"] is not None
    assert internal.hits == 0


async def test_dns_rebinding_connects_to_the_checked_address(  # type: ignore[no-untyped-def]
        database_url, data_dir, fake_dns: FakeDns, connect_guard: ConnectGuard) -> None:
    # First answer public (passes the check), every later answer loopback.
    fake_dns.set("rebind.ssrf.test", PUBLIC, "127.0.0.1")
    async with InternalService() as internal, run_server(
            _settings(database_url, data_dir, **PRODUCTION)) as live:
        call = await _chat_tool_result(live.url, f"http://rebind.ssrf.test:{internal.port}/orders")
    assert SECRET not in call["result"] and call["error"] is not None
    assert internal.hits == 0
    assert connect_guard.refused == [PUBLIC]  # it went to the address it checked
    assert fake_dns.lookups == ["rebind.ssrf.test"]  # resolved once


class HookReceiver(LoopbackServer):
    def __init__(self) -> None:
        super().__init__()
        self.hits = 0
        self.app.router.add_post("/hook", self._hook)

    async def _hook(self, request: web.Request) -> web.Response:
        self.hits += 1
        return web.Response(status=200)


async def test_webhooks_to_internal_addresses_are_refused_when_saved_and_when_sent(  # type: ignore[no-untyped-def]
        database_url, data_dir, fake_dns: FakeDns, connect_guard: ConnectGuard) -> None:
    from uuid import UUID

    from db import webhooks as webhooks_db
    from server.jobs.webhooks import DeliveryFailed, deliver

    fake_dns.set("hooks.ssrf.test", PUBLIC)
    async with HookReceiver() as receiver, run_server(
            _settings(database_url, data_dir)) as live, httpx.AsyncClient(
            base_url=live.url, timeout=30) as http:
        signup = await http.post("/api/v1/auth/signup", json={
            "email": f"hook-{uuid.uuid4().hex[:8]}@example.com", "password": "long enough pw"})
        headers = {"Authorization": f"Bearer {signup.json()['access_token']}"}
        direct = await http.post("/api/v1/webhooks", headers=headers, json={
            "url": f"{receiver.http_url}/hook", "events": ["call.ended"]})
        assert direct.status_code == 422, direct.text
        assert direct.json()["error"]["details"][0]["pointer"] == "/body/url"

        saved = await http.post("/api/v1/webhooks", headers=headers, json={
            "url": f"http://hooks.ssrf.test:{receiver.port}/hook", "events": ["call.ended"]})
        assert saved.status_code == 201, saved.text  # public when saved...
        fake_dns.set("hooks.ssrf.test", "127.0.0.1")  # ...internal when sent
        # One delivery attempt by this server (a queued job could be taken by another
        # test server's worker on the same database).
        org, hook_id = UUID(signup.json()["organization_id"]), UUID(saved.json()["id"])
        delivery = await webhooks_db.create_delivery(live.services.db, org, hook_id,
                                                     event="call.ended", payload={"n": 1})
        with pytest.raises(DeliveryFailed, match="non-public"):
            await deliver(live.services, {"payload": {"delivery_id": str(delivery["id"])}})
        url = f"/api/v1/webhooks/{hook_id}/deliveries"
        attempts = (await http.get(url, headers=headers)).json()[0]["attempts"]
    assert len(attempts) == 1 and "non-public" in attempts[0]["error"]
    assert receiver.hits == 0


async def test_the_servers_own_demo_routes_are_served_in_process(database_url, data_dir) -> None:  # type: ignore[no-untyped-def]
    # PUBLIC_URL does not resolve here: only in-process dispatch can reach the app, and
    # loopback stays closed.
    public = "https://switchboard.invalid"
    async with run_server(_settings(database_url, data_dir, public_url=public)) as live:
        demo = await _chat_tool_result(live.url, f"{public}/demo/orders")
        api = await _chat_tool_result(live.url, f"{public}/api/v1/organization")
    # The app itself answered (whatever it said about this request): in-process.
    assert demo["error"] is None or demo["error"].startswith("http_"), demo
    # Outside /demo/ the URL goes to the network, where it does not resolve.
    assert api["error"] == "blocked_destination", api
