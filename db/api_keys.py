"""API keys: stored as SHA-256 hashes of high-entropy secrets, one organization each."""

from __future__ import annotations

from uuid import UUID

import asyncpg

Conn = asyncpg.Pool | asyncpg.Connection

_COLUMNS = "id, organization_id, name, prefix, role, created_by, created_at, last_used_at, revoked_at"


async def create(
    conn: Conn,
    organization_id: UUID,
    *,
    name: str,
    prefix: str,
    key_hash: bytes,
    role: str,
    created_by: UUID | None,
) -> asyncpg.Record:
    return await conn.fetchrow(
        f"""INSERT INTO api_keys (organization_id, name, prefix, key_hash, role, created_by)
            VALUES ($1, $2, $3, $4, $5, $6) RETURNING {_COLUMNS}""",
        organization_id,
        name,
        prefix,
        key_hash,
        role,
        created_by,
    )


async def list_for_org(conn: Conn, organization_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"SELECT {_COLUMNS} FROM api_keys WHERE organization_id = $1 ORDER BY created_at",
        organization_id,
    )


async def revoke(conn: Conn, organization_id: UUID, key_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"""UPDATE api_keys SET revoked_at = COALESCE(revoked_at, now())
             WHERE organization_id = $1 AND id = $2 RETURNING {_COLUMNS}""",
        organization_id,
        key_id,
    )


async def creator_of(conn: Conn, organization_id: UUID, key_id: UUID) -> UUID | None:
    return await conn.fetchval(
        "SELECT created_by FROM api_keys WHERE organization_id = $1 AND id = $2",
        organization_id,
        key_id,
    )


async def revoke_created_by(
    conn: Conn, organization_id: UUID, user_id: UUID, roles: tuple[str, ...]
) -> list[UUID]:
    """Revoke the live keys ``user_id`` created in the organization with one of ``roles``."""
    rows = await conn.fetch(
        """UPDATE api_keys SET revoked_at = now()
            WHERE organization_id = $1 AND created_by = $2 AND role = ANY($3::text[])
              AND revoked_at IS NULL
        RETURNING id""",
        organization_id,
        user_id,
        list(roles),
    )
    return [r["id"] for r in rows]


async def authenticate(conn: Conn, key_hash: bytes) -> asyncpg.Record | None:
    """The live key with this hash (and its last-use time bumped), or None.

    A key made by a user works only while that user is still a member with at least the
    key's role (keys are revoked when that stops; this re-checks it on every use)."""
    return await conn.fetchrow(
        """UPDATE api_keys k SET last_used_at = now()
            WHERE k.key_hash = $1 AND k.revoked_at IS NULL
              AND (k.created_by IS NULL OR EXISTS (
                    SELECT 1 FROM memberships m
                     WHERE m.organization_id = k.organization_id AND m.user_id = k.created_by
                       AND (k.role = 'member' OR m.role IN ('admin', 'owner'))))
        RETURNING k.id, k.organization_id, k.role""",
        key_hash,
    )
