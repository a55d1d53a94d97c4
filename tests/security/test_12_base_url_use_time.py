"""Finding 12: a provider ``base_url`` was checked only when saved.

The organization saves an OpenAI credential whose ``base_url`` resolves to a public address
(the save-time check passes), then changes its DNS to point at an internal service. Every
use must check again: the model request must not reach the internal address.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from runtime.templates import order_desk
from server.settings import Settings
from tests.conftest import run_server
from tests.fakes.openai_server import FakeOpenAI, say
from tests.security.conftest import PUBLIC, ConnectGuard, FakeDns

pytestmark = pytest.mark.integration


def _settings(database_url: str, data_dir: Path) -> Settings:
    return Settings(_env_file=None, env="production", database_url=database_url,  # type: ignore[call-arg]
                    data_dir=data_dir, redis_url=None, log_level="warning",
                    shutdown_grace_seconds=2.0, warmup=False, jobs_enabled=False,
                    public_url="https://switchboard.example.com", signup_policy="open")


async def test_provider_base_url_is_checked_again_when_used(  # type: ignore[no-untyped-def]
        database_url, data_dir, fake_dns: FakeDns, connect_guard: ConnectGuard) -> None:
    async with FakeOpenAI() as internal:
        internal.script(say("internal model answered"))
        base_url = f"http://llm.ssrf.test:{internal.port}/v1"
        fake_dns.set("llm.ssrf.test", PUBLIC)
        async with run_server(_settings(database_url, data_dir)) as live, httpx.AsyncClient(
                base_url=live.url, timeout=30) as http:
            signup = await http.post("/api/v1/auth/signup", json={
                "email": f"dns-{uuid.uuid4().hex[:8]}@example.com",
                "password": "long enough pw"})
            headers = {"Authorization": f"Bearer {signup.json()['access_token']}"}
            saved = await http.put("/api/v1/provider-credentials/openai", headers=headers,
                                   json={"api_key": "sk-tenant-own-key", "base_url": base_url})
            assert saved.status_code == 200, saved.text  # public when saved

            fake_dns.set("llm.ssrf.test", "127.0.0.1")  # ...then the DNS changes
            created = await http.post("/api/v1/workflows", headers=headers,
                                      json={"name": "llm", "definition": order_desk()})
            turn = await http.post(f"/api/v1/workflows/{created.json()['id']}/chat",
                                   json={"message": "hello there"}, headers=headers)
            out: dict[str, Any] = turn.json()
    assert turn.status_code == 200, out
    assert "internal model answered" not in out["reply"]
    assert internal.requests == []
