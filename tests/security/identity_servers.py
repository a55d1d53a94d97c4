"""Helpers for the identity security tests: a server with its own settings (rate limits on,
a signup policy, a grace window...) on the run's database, and a user factory for it."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import LiveServer, TestUser, make_settings, run_server


@contextlib.asynccontextmanager
async def serve(
    database_url: str, data_dir: Path, **overrides: Any
) -> AsyncIterator[tuple[LiveServer, httpx.AsyncClient]]:
    overrides.setdefault("warmup", False)  # no speech models: these tests place no calls
    settings = make_settings(database_url, data_dir, **overrides)
    async with run_server(settings) as live, httpx.AsyncClient(base_url=live.url,
                                                                 timeout=30) as client:
        yield live, client


async def signup(client: httpx.AsyncClient, **extra: Any) -> TestUser:
    email = extra.pop("email", None) or f"user-{uuid.uuid4().hex[:10]}@example.com"
    password = extra.pop("password", "correct horse battery")
    r = await client.post("/api/v1/auth/signup", json={"email": email, "password": password,
                                                       **extra})
    assert r.status_code == 201, r.text
    data = r.json()
    return TestUser(email, password, data["user_id"], data["organization_id"],
                    data["access_token"], data["refresh_token"])
