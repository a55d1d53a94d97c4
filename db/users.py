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


async def revoke_sessions(conn: Conn, user_id: UUID) -> int:
    """Sign-out-everywhere: access tokens carrying an older session version stop working.
    Returns the new version."""
    return await conn.fetchval(
        "UPDATE users SET session_version = session_version + 1 WHERE id = $1"
        " RETURNING session_version",
        user_id,
    )


async def session_version(conn: Conn, user_id: UUID) -> int:
    return await conn.fetchval("SELECT session_version FROM users WHERE id = $1", user_id) or 0


async def session_role(
    conn: Conn, organization_id: UUID, user_id: UUID, session_version: int
) -> str | None:
    """The user's role in the organization, if an access token of ``session_version`` is
    still valid: the user is a member and has not signed out everywhere (or changed
    password) since it was issued."""
    return await conn.fetchval(
        """SELECT m.role FROM memberships m JOIN users u ON u.id = m.user_id
            WHERE m.organization_id = $1 AND m.user_id = $2 AND u.session_version = $3""",
        organization_id,
        user_id,
        session_version,
    )
