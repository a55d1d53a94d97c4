"""Refresh tokens: stored as SHA-256 hashes, rotated on use, revoked per family.

A family is one login: every rotation inserts a token with the same ``family_id`` and the
family's absolute end (``family_expires_at``).
"""

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
    family_expires_at: datetime,
) -> None:
    await conn.execute(
        """INSERT INTO refresh_tokens (family_id, user_id, organization_id, token_hash,
                                       expires_at, family_expires_at)
           VALUES ($1, $2, $3, $4, LEAST($5::timestamptz, $6::timestamptz), $6)""",
        family_id,
        user_id,
        organization_id,
        token_hash,
        expires_at,
        family_expires_at,
    )


async def lock(conn: asyncpg.Connection, token_hash: bytes) -> asyncpg.Record | None:
    """The token's row, locked for this transaction (concurrent presentations of the same
    token run one after the other), with its age since use in seconds."""
    return await conn.fetchrow(
        """SELECT family_id, user_id, organization_id, used_at, revoked_at,
                  expires_at <= now() OR family_expires_at <= now() AS expired,
                  family_expires_at,
                  EXTRACT(EPOCH FROM clock_timestamp() - used_at)::float8 AS used_seconds_ago
             FROM refresh_tokens WHERE token_hash = $1 FOR UPDATE""",
        token_hash,
    )


async def mark_used(conn: Conn, token_hash: bytes) -> None:
    await conn.execute(
        "UPDATE refresh_tokens SET used_at = now() WHERE token_hash = $1 AND used_at IS NULL",
        token_hash,
    )


async def find(conn: Conn, token_hash: bytes) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT family_id, user_id, used_at, revoked_at, expires_at FROM refresh_tokens"
        " WHERE token_hash = $1",
        token_hash,
    )


async def revoke_family(conn: Conn, family_id: UUID) -> int:
    result = await conn.execute(
        "UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = $1 AND revoked_at IS NULL",
        family_id,
    )
    return int(result.split()[-1])


async def revoke_user(conn: Conn, user_id: UUID) -> int:
    """Revoke every login of the user, in every organization (sign-out-everywhere)."""
    result = await conn.execute(
        "UPDATE refresh_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL",
        user_id,
    )
    return int(result.split()[-1])
