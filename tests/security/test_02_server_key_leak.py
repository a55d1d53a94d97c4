"""Finding 2: the operator's ``OPENAI_API_KEY`` was sent to a URL the tenant chose.

A workflow's ``settings.llm`` with ``openai-compatible`` and a ``base_url`` got the server's
environment key when the organization stored none: one chat message sent
``Authorization: Bearer <server key>`` to the tenant's server. ``SHARE_SERVER_KEYS=false``
keeps tenants off the server's keys altogether.
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
from tests.fakes.openai_server import FakeOpenAI, say

pytestmark = pytest.mark.integration

SERVER_KEY = "sk-operator-0123456789abcdef"


def _recording_authorization(fake: FakeOpenAI) -> list[str]:
    seen: list[str] = []

    @web.middleware
    async def record(request: web.Request, handler: Any) -> web.StreamResponse:
        seen.append(request.headers.get("Authorization", ""))
        return await handler(request)

    fake.app.middlewares.append(record)
    return seen


def _settings(database_url: str, data_dir: Path, **values: Any) -> Settings:
    base: dict[str, Any] = {"env": "development", "database_url": database_url,
                            "data_dir": data_dir, "redis_url": None, "log_level": "warning",
                            "shutdown_grace_seconds": 2.0, "warmup": False, "jobs_enabled": False,
                            # the tenant's endpoint is a loopback fake: let it be reached,
                            # so what is tested here is only which key goes there
                            "allow_private_urls": True}
    return Settings(_env_file=None, **{**base, **values})  # type: ignore[call-arg]


async def _chat(base_url: str, definition: dict[str, Any]) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        signup = await http.post("/api/v1/auth/signup", json={
            "email": f"keys-{uuid.uuid4().hex[:8]}@example.com", "password": "long enough pw"})
        headers = {"Authorization": f"Bearer {signup.json()['access_token']}"}
        created = await http.post("/api/v1/workflows", headers=headers,
                                  json={"name": "keys", "definition": definition})
        assert created.status_code == 201, created.text
        turn = await http.post(f"/api/v1/workflows/{created.json()['id']}/chat",
                               json={"message": "hello there"}, headers=headers)
        assert turn.status_code == 200, turn.text
        return turn.json()


async def test_tenant_base_url_never_gets_the_server_key(database_url, data_dir) -> None:  # type: ignore[no-untyped-def]
    tenant_endpoint = FakeOpenAI()
    seen = _recording_authorization(tenant_endpoint)
    async with FakeOpenAI() as operator_endpoint, tenant_endpoint:
        tenant_endpoint.script(say("hi from the tenant's model"))
        definition = order_desk()
        definition["settings"] = {"llm": {"provider": "openai-compatible", "model": "m",
                                          "base_url": tenant_endpoint.base_url}}
        settings = _settings(database_url, data_dir, openai_api_key=SERVER_KEY,
                             openai_base_url=operator_endpoint.base_url)
        async with run_server(settings) as live:
            out = await _chat(live.url, definition)
    assert out["engine"] == "openai-compatible"
    assert seen, "the tenant's endpoint was called"
    assert all(SERVER_KEY not in value for value in seen), seen


async def test_share_server_keys_false_keeps_tenants_off_the_server_key(  # type: ignore[no-untyped-def]
        database_url, data_dir) -> None:
    async with FakeOpenAI() as operator_endpoint:
        operator_endpoint.script(say("the operator pays for this"))
        settings = _settings(database_url, data_dir, openai_api_key=SERVER_KEY,
                             openai_base_url=operator_endpoint.base_url,
                             share_server_keys=False)
        async with run_server(settings) as live:
            out = await _chat(live.url, order_desk())
    assert out["engine"] == "offline-scripted"
    assert operator_endpoint.requests == []
