"""Refresh tokens: stored as SHA-256 hashes, rotated on use, revoked per family."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg

Conn = asyncpg.Pool | asyncpg.Connection


async def insert(
    conn: Conn,
    *,
    family_id: UUID,
    user_id: UUID,
    organization_id: UUID,
    token_hash: bytes,
    expires_at: datetime,
) -> None:
    await conn.execute(
        """INSERT INTO refresh_tokens (family_id, user_id, organization_id, token_hash, expires_at)
           VALUES ($1, $2, $3, $4, $5)""",
        family_id,
        user_id,
        organization_id,
        token_hash,
        expires_at,
    )


async def consume(conn: Conn, token_hash: bytes) -> asyncpg.Record | None:
    """Mark a live token used (atomically, once); returns it, or None if not consumable."""
    return await conn.fetchrow(
        """UPDATE refresh_tokens SET used_at = now()
            WHERE token_hash = $1 AND used_at IS NULL AND revoked_at IS NULL
              AND expires_at > now()
        RETURNING family_id, user_id, organization_id""",
        token_hash,
    )


async def find(conn: Conn, token_hash: bytes) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT family_id, used_at, revoked_at, expires_at FROM refresh_tokens WHERE token_hash = $1",
        token_hash,
    )


async def revoke_family(conn: Conn, family_id: UUID) -> int:
    result = await conn.execute(
        "UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = $1 AND revoked_at IS NULL",
        family_id,
    )
    return int(result.split()[-1])
