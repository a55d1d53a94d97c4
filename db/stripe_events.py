"""Stripe webhook events, stored by Stripe's event id before anything else happens."""

from __future__ import annotations

from typing import Any

import asyncpg

Conn = asyncpg.Pool | asyncpg.Connection

_COLUMNS = "id, type, payload, received_at, processed_at, attempts, last_error"


async def store(conn: Conn, event_id: str, event_type: str, payload: dict[str, Any]) -> bool:
    """Keep the event; False when its id was already stored (a duplicate delivery)."""
    inserted = await conn.fetchval(
        """INSERT INTO stripe_events (id, type, payload) VALUES ($1, $2, $3)
           ON CONFLICT (id) DO NOTHING RETURNING true""",
        event_id,
        event_type,
        payload,
    )
    return bool(inserted)


async def get(conn: Conn, event_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {_COLUMNS} FROM stripe_events WHERE id = $1", event_id)


async def begin_attempt(conn: Conn, event_id: str) -> asyncpg.Record | None:
    """Count an attempt at processing the event; None when it is already processed."""
    return await conn.fetchrow(
        f"""UPDATE stripe_events SET attempts = attempts + 1
             WHERE id = $1 AND processed_at IS NULL
         RETURNING {_COLUMNS}""",
        event_id,
    )


async def mark_processed(conn: Conn, event_id: str) -> None:
    await conn.execute(
        "UPDATE stripe_events SET processed_at = now(), last_error = NULL WHERE id = $1",
        event_id,
    )


async def mark_failed(conn: Conn, event_id: str, error: str) -> None:
    await conn.execute("UPDATE stripe_events SET last_error = $2 WHERE id = $1", event_id, error[:2000])
