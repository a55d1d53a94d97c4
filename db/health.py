"""The database check behind ``/health/ready``."""

from __future__ import annotations

import asyncpg


async def ping(pool: asyncpg.Pool) -> None:
    """Raise unless the database answers a trivial query."""
    await pool.fetchval("SELECT 1")
