"""Users (global, not organization-scoped: a user may belong to several organizations)."""

from __future__ import annotations

from uuid import UUID

import asyncpg

Conn = asyncpg.Pool | asyncpg.Connection


async def create(conn: Conn, email: str, password_hash: str, name: str | None) -> asyncpg.Record:
    """Insert a user; raises ``asyncpg.UniqueViolationError`` when the email is taken."""
    return await conn.fetchrow(
        """INSERT INTO users (email, password_hash, name) VALUES ($1, $2, $3)
           RETURNING id, email, name, created_at""",
        email,
        password_hash,
        name,
    )


async def by_email(conn: Conn, email: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT id, email, name, password_hash, created_at FROM users WHERE lower(email) = lower($1)",
        email,
    )


async def by_id(conn: Conn, user_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT id, email, name, created_at FROM users WHERE id = $1", user_id
    )



async def set_password(conn: Conn, user_id: UUID, password_hash: str) -> None:
    await conn.execute("UPDATE users SET password_hash = $2 WHERE id = $1", user_id, password_hash)


async def password_hash(conn: Conn, user_id: UUID) -> str | None:
    return await conn.fetchval("SELECT password_hash FROM users WHERE id = $1", user_id)


async def revoke_sessions(conn: Conn, user_id: UUID) -> None:
    """Access tokens issued before this second stop working (sign-out-everywhere)."""
    await conn.execute(
        "UPDATE users SET sessions_revoked_at = date_trunc('second', now()) WHERE id = $1",
        user_id,
    )


async def session_role(
    conn: Conn, organization_id: UUID, user_id: UUID, issued_at: int
) -> str | None:
    """The user's role in the organization, if the access token issued at ``issued_at``
    (epoch seconds) is still valid: the user is a member and has not signed out everywhere
    (or changed password) since."""
    return await conn.fetchval(
        """SELECT m.role FROM memberships m JOIN users u ON u.id = m.user_id
            WHERE m.organization_id = $1 AND m.user_id = $2
              AND (u.sessions_revoked_at IS NULL OR u.sessions_revoked_at <= to_timestamp($3))""",
        organization_id,
        user_id,
        issued_at,
    )
