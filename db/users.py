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

