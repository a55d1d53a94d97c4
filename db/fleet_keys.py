"""Fingerprints of the keys every instance on one database must share (``fleet_keys``)."""

from __future__ import annotations

import asyncpg


async def record_or_get(conn: asyncpg.Pool | asyncpg.Connection, purpose: str,
                        fingerprint: str) -> str:  # fmt: skip
    """Record ``fingerprint`` for ``purpose`` unless one is recorded; return the recorded."""
    await conn.execute(
        "INSERT INTO fleet_keys (purpose, fingerprint) VALUES ($1, $2) "
        "ON CONFLICT (purpose) DO NOTHING",
        purpose, fingerprint,
    )  # fmt: skip
    return str(await conn.fetchval("SELECT fingerprint FROM fleet_keys WHERE purpose = $1",
                                   purpose))  # fmt: skip


async def replace(conn: asyncpg.Pool | asyncpg.Connection, purpose: str, fingerprint: str) -> None:
    """The key for ``purpose`` changed everywhere (``switchboard rotate-keys``)."""
    await conn.execute(
        "INSERT INTO fleet_keys (purpose, fingerprint) VALUES ($1, $2) "
        "ON CONFLICT (purpose) DO UPDATE SET fingerprint = $2, recorded_at = now()",
        purpose, fingerprint,
    )  # fmt: skip
