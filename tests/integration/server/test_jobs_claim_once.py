"""Every job runs once with several workers claiming at the same time (the fleet test found
two workers running the same post-call job: a row claimed and committed by one worker after
the other's snapshot was claimed again, because only the snapshot was checked)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from db import jobs as jobs_db
from db.migrate import migrate_url
from db.pool import create_pool


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A database of its own: no other test's worker may take these jobs."""
    name = f"sb_claim_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(database_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    url = urlunsplit(urlsplit(database_url)._replace(path=f"/{name}"))
    await migrate_url(url)
    pool = await create_pool(url, min_size=4, max_size=8)
    yield pool
    await pool.close()
    admin = await asyncpg.connect(database_url)
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


async def test_concurrent_claims_never_take_a_job_twice(pool: asyncpg.Pool) -> None:
    for i in range(300):
        await jobs_db.enqueue(pool, "test.once", {"i": i})
    claimed: list[uuid.UUID] = []

    async def worker(name: str) -> None:
        while jobs := await jobs_db.claim(pool, name, limit=1, lease_seconds=300):
            for job in jobs:
                claimed.append(job["id"])
                await jobs_db.complete(pool, job["id"])

    await asyncio.gather(*(worker(f"w{i}") for i in range(4)))
    assert len(claimed) == 300 and len(set(claimed)) == 300
