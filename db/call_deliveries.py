"""A call's customer-webhook deliveries (events whose ``data.call_id`` is the call), each
with every attempt: the console's call page. Org-scoped."""

from __future__ import annotations

from uuid import UUID

import asyncpg

from db.webhooks import ATTEMPT_LOG

Conn = asyncpg.Pool | asyncpg.Connection


async def for_call(conn: Conn, organization_id: UUID, call_id: UUID, *,
                   limit: int = 100) -> list[asyncpg.Record]:  # fmt: skip
    """Oldest first (the order they were sent in), with the webhook's URL."""
    return await conn.fetch(
        f"""SELECT d.id, d.webhook_id, w.url, d.event, d.status, d.created_at, d.delivered_at,
                   {ATTEMPT_LOG}
             FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
            WHERE d.organization_id = $1 AND w.organization_id = $1
              AND (d.payload -> 'data' ->> 'call_id') = $2::text
         ORDER BY d.created_at, d.id
            LIMIT $3""",
        organization_id, str(call_id), limit,
    )  # fmt: skip
