"""``switchboard serve --workers 2``: two uvicorn worker processes on one port, sharing the
database, Redis and the instance's keys. (It exited at start-up until the served HTTP
protocol could be pickled into spawned workers: server/http_protocol.py.)"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import fresh_database
from tests.realtime.fleet.harness import Process, base_env, free_port, shared_keys

pytestmark = pytest.mark.redis


@pytest.fixture(scope="module")
async def workers(database_url: str, redis_url: str, redis_prefix: str,
                  run_dir: Path) -> AsyncIterator[Process]:  # fmt: skip
    async with fresh_database(database_url, "sb_workers") as url:
        env = base_env(**shared_keys(), env="test", database_url=url, redis_url=redis_url,
                       redis_prefix=f"{redis_prefix}-workers", workers=2, jobs_enabled="false",
                       allow_private_urls="true", log_level="info")  # fmt: skip
        proc = Process("serve", ["serve"], env, run_dir / f"workers-{uuid.uuid4().hex[:6]}",
                       free_port())  # fmt: skip
        await proc.start()
        try:
            await proc.ready()
            yield proc
        finally:
            await proc.stop()


async def test_two_workers_serve_one_port_with_shared_keys(workers: Process) -> None:
    # uvicorn's supervisor logs each worker process it starts
    async def started() -> set[str]:
        while len(pids := set(re.findall(r"Started server process \[(\d+)\]", workers.log))) < 2:
            await asyncio.sleep(0.2)
        return pids

    assert len(await asyncio.wait_for(started(), 60)) == 2
    async with httpx.AsyncClient(base_url=workers.url, timeout=10) as http:
        email = f"w-{uuid.uuid4().hex[:8]}@example.com"
        r = await http.post("/api/v1/auth/signup",
                            json={"email": email, "password": "correct horse battery"})  # fmt: skip
        assert r.status_code == 201, r.text
        token = r.json()["access_token"]
    # A new connection per request: the kernel hands each to one of the workers, so a token
    # signed by one is checked by both.
    for _ in range(20):
        async with httpx.AsyncClient(base_url=workers.url, timeout=10) as http:
            r = await http.get("/api/v1/workflows", headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 200, r.text
