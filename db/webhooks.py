"""Webhooks (per organization), their deliveries, and every delivery attempt."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

Conn = asyncpg.Pool | asyncpg.Connection

_COLUMNS = "id, organization_id, url, events, description, active, created_at, updated_at"
_DELIVERY = (
    "id, organization_id, webhook_id, event, payload, status, attempts, created_at, delivered_at"
)


async def create(conn: Conn, organization_id: UUID, *, url: str, events: list[str],
                 description: str, secret_ciphertext: bytes) -> asyncpg.Record:
    return await conn.fetchrow(
        f"""INSERT INTO webhooks (organization_id, url, events, description, secret_ciphertext)
            VALUES ($1, $2, $3, $4, $5) RETURNING {_COLUMNS}""",
        organization_id, url, events, description, secret_ciphertext,
    )


async def list_for_org(conn: Conn, organization_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"SELECT {_COLUMNS} FROM webhooks WHERE organization_id = $1 ORDER BY created_at",
        organization_id,
    )


async def get(conn: Conn, organization_id: UUID, webhook_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM webhooks WHERE organization_id = $1 AND id = $2",
        organization_id, webhook_id,
    )


async def update(conn: Conn, organization_id: UUID, webhook_id: UUID, *, url: str | None,
                 events: list[str] | None, description: str | None, active: bool | None,
                 secret_ciphertext: bytes | None = None) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"""UPDATE webhooks SET url = COALESCE($3, url), events = COALESCE($4, events),
                   description = COALESCE($5, description), active = COALESCE($6, active),
                   secret_ciphertext = COALESCE($7, secret_ciphertext), updated_at = now()
             WHERE organization_id = $1 AND id = $2 RETURNING {_COLUMNS}""",
        organization_id, webhook_id, url, events, description, active, secret_ciphertext,
    )


async def delete(conn: Conn, organization_id: UUID, webhook_id: UUID) -> bool:
    row = await conn.fetchrow(
        "DELETE FROM webhooks WHERE organization_id = $1 AND id = $2 RETURNING id",
        organization_id, webhook_id,
    )
    return row is not None


async def subscribed(conn: Conn, organization_id: UUID, event: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT id FROM webhooks
            WHERE organization_id = $1 AND active AND $2 = ANY(events)""",
        organization_id, event,
    )


async def create_delivery(conn: Conn, organization_id: UUID, webhook_id: UUID, *, event: str,
                          payload: dict[str, Any]) -> asyncpg.Record:
    return await conn.fetchrow(
        f"""INSERT INTO webhook_deliveries (organization_id, webhook_id, event, payload)
            VALUES ($1, $2, $3, $4) RETURNING {_DELIVERY}""",
        organization_id, webhook_id, event, payload,
    )


async def delivery_for_send(conn: Conn, delivery_id: UUID) -> asyncpg.Record | None:
    """A delivery with its webhook's URL and secret, by the id the server issued (jobs)."""
    return await conn.fetchrow(
        """SELECT d.id, d.organization_id, d.event, d.payload, d.status, d.attempts,
                  w.url, w.secret_ciphertext, w.active
             FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
            WHERE d.id = $1""",
        delivery_id,
    )


async def record_attempt(conn: Conn, delivery_id: UUID, *, status_code: int | None,
                         error: str | None, duration_ms: int, delivered: bool) -> int:
    """Store one attempt and bump the delivery; returns the attempt number."""
    async with _transaction(conn) as tx:
        attempt = await tx.fetchval(
            """UPDATE webhook_deliveries
                  SET attempts = attempts + 1,
                      status = CASE WHEN $2 THEN 'delivered' ELSE status END,
                      delivered_at = CASE WHEN $2 THEN now() ELSE delivered_at END
                WHERE id = $1 RETURNING attempts""",
            delivery_id, delivered,
        )
        await tx.execute(
            """INSERT INTO webhook_attempts (delivery_id, attempt, status_code, error,
                      duration_ms) VALUES ($1, $2, $3, $4, $5)""",
            delivery_id, attempt, status_code, error, duration_ms,
        )
    return int(attempt)


async def mark_failed(conn: Conn, delivery_id: UUID) -> None:
    await conn.execute(
        "UPDATE webhook_deliveries SET status = 'failed' WHERE id = $1 AND status = 'pending'",
        delivery_id,
    )


#: A delivery ``d``'s attempts, oldest first, as one JSON array column ``attempt_log``.
ATTEMPT_LOG = """COALESCE((SELECT jsonb_agg(jsonb_build_object(
                     'attempt', a.attempt, 'status_code', a.status_code,
                     'error', a.error, 'duration_ms', a.duration_ms,
                     'at', a.created_at) ORDER BY a.attempt)
                   FROM webhook_attempts a WHERE a.delivery_id = d.id),
                '[]'::jsonb) AS attempt_log"""


async def list_deliveries(conn: Conn, organization_id: UUID, webhook_id: UUID, *,
                          limit: int = 50) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"""SELECT {_DELIVERY}, {ATTEMPT_LOG}
              FROM webhook_deliveries d
             WHERE d.organization_id = $1 AND d.webhook_id = $2
          ORDER BY d.created_at DESC LIMIT $3""",
        organization_id, webhook_id, limit,
    )


class _transaction:
    """``conn.transaction()`` on a connection, or on one acquired from a pool."""

    def __init__(self, conn: Conn) -> None:
        self._conn = conn
        self._acquired: Any = None
        self._tx: Any = None

    async def __aenter__(self) -> asyncpg.Connection:
        conn = self._conn
        if isinstance(conn, asyncpg.Pool):
            self._acquired = conn.acquire()
            conn = await self._acquired.__aenter__()
        self._tx = conn.transaction()
        await self._tx.__aenter__()
        return conn  # type: ignore[return-value]

    async def __aexit__(self, *exc: Any) -> None:
        try:
            await self._tx.__aexit__(*exc)
        finally:
            if self._acquired is not None:
                await self._acquired.__aexit__(*exc)
