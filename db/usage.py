"""Usage records (per call, kind and provider) and their summaries."""

from __future__ import annotations

from collections.abc import Sequence
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
        [
            (organization_id, call_id, workflow_id, k, p, m, q, recorded_at)
            for k, p, m, q in records
        ],
    )


async def for_call(conn: Conn, organization_id: UUID, call_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT kind, provider, model, quantity FROM usage_records
            WHERE organization_id = $1 AND call_id = $2 ORDER BY kind, provider, model""",
        organization_id,
        call_id,
    )


async def summary(
    conn: Conn,
    organization_id: UUID,
    *,
    start: datetime,
    end: datetime,
    group_by: Literal["day", "workflow"],
) -> list[asyncpg.Record]:
    """Totals per group, kind and provider for usage recorded in [start, end)."""
    group = (
        "to_char(date_trunc('day', recorded_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD')"
        if group_by == "day"
        else "COALESCE(workflow_id::text, '')"
    )
    return await conn.fetch(
        f"""SELECT {group} AS grp, kind, provider, sum(quantity) AS quantity,
                   count(DISTINCT call_id) AS calls
              FROM usage_records
             WHERE organization_id = $1 AND recorded_at >= $2 AND recorded_at < $3
             GROUP BY grp, kind, provider
             ORDER BY grp, kind, provider""",
        organization_id,
        start,
        end,
    )
