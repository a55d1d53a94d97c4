"""Usage records (per call, kind and provider) and their summaries."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Literal
from uuid import UUID

import asyncpg

Conn = asyncpg.Pool | asyncpg.Connection


async def upsert_for_call(
    conn: Conn,
    organization_id: UUID,
    call_id: UUID,
    workflow_id: UUID | None,
    records: Sequence[tuple[str, str, str, float]],
    *,
    recorded_at: datetime | None = None,
) -> None:
    """Set the call's running totals: (kind, provider, model, quantity) each."""
    await conn.executemany(
        """INSERT INTO usage_records (organization_id, call_id, workflow_id, kind, provider,
                  model, quantity, recorded_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, COALESCE($8, now()))
           ON CONFLICT (call_id, kind, provider, model)
           DO UPDATE SET quantity = EXCLUDED.quantity, recorded_at = EXCLUDED.recorded_at""",
        [(organization_id, call_id, workflow_id, k, p, m, q, recorded_at) for k, p, m, q in records],
    )


async def for_call(conn: Conn, organization_id: UUID, call_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT kind, provider, model, quantity FROM usage_records
            WHERE organization_id = $1 AND call_id = $2 ORDER BY kind, provider, model""",
        organization_id,
        call_id,
    )


Grouping = Literal["day", "workflow", "call"]

_GROUP = {
    "day": "to_char(date_trunc('day', recorded_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD')",
    "workflow": "COALESCE(workflow_id::text, '')",
    "call": "call_id::text",
}


def _summary_sql(group_by: Grouping) -> str:
    return f"""SELECT {_GROUP[group_by]} AS grp, kind, provider, model, sum(quantity) AS quantity,
                      count(DISTINCT call_id) AS calls
                 FROM usage_records
                WHERE organization_id = $1 AND recorded_at >= $2 AND recorded_at < $3
                GROUP BY grp, kind, provider, model
                ORDER BY grp, kind, provider, model"""


async def summary(
    conn: Conn,
    organization_id: UUID,
    *,
    start: datetime,
    end: datetime,
    group_by: Grouping,
) -> list[asyncpg.Record]:
    """Totals per group, kind, provider and model for usage recorded in [start, end)."""
    return await conn.fetch(_summary_sql(group_by), organization_id, start, end)


async def stream_summary(
    pool: asyncpg.Pool,
    organization_id: UUID,
    *,
    start: datetime,
    end: datetime,
    group_by: Grouping,
    batch: int = 500,
) -> AsyncIterator[asyncpg.Record]:
    """The rows of ``summary`` through a server-side cursor (for exports of any size)."""
    async with pool.acquire() as conn, conn.transaction(readonly=True):
        cursor = conn.cursor(_summary_sql(group_by), organization_id, start, end,
                             prefetch=batch)  # fmt: skip
        async for row in cursor:
            yield row
