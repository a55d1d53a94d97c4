"""Billing: the organization's billing period, minutes used, resource counts under the
plan's limits, and the usage alerts sent. Every query is scoped by organization."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

import asyncpg

Conn = asyncpg.Pool | asyncpg.Connection

Counted = Literal["workflows", "phone_numbers"]


async def billing_state(conn: Conn, organization_id: UUID) -> asyncpg.Record | None:
    """The organization's plan, concurrent-call limit, billing period columns, creation."""
    return await conn.fetchrow(
        """SELECT id, plan, max_concurrent_calls, billing_period_start, billing_period_end,
                  created_at
             FROM organizations WHERE id = $1""",
        organization_id,
    )


async def set_billing_period(
    conn: Conn, organization_id: UUID, start: datetime | None, end: datetime | None
) -> bool:
    """Set (or, with None, clear back to calendar months) the current billing period."""
    status = await conn.execute(
        """UPDATE organizations SET billing_period_start = $2, billing_period_end = $3,
                  updated_at = now()
            WHERE id = $1""",
        organization_id,
        start,
        end,
    )
    return status.endswith(" 1")


async def minutes_used(conn: Conn, organization_id: UUID, start: datetime, end: datetime) -> int:
    """Billable minutes of the calls recorded in [start, end): each call's seconds rounded up
    to whole minutes (one indexed aggregate over ``usage_records_call_seconds_idx``)."""
    value = await conn.fetchval(
        """SELECT COALESCE(sum(ceil(seconds / 60.0)), 0)::bigint
             FROM (SELECT sum(quantity) AS seconds FROM usage_records
                    WHERE organization_id = $1 AND kind = 'call_seconds'
                      AND recorded_at >= $2 AND recorded_at < $3
                    GROUP BY call_id) AS per_call""",
        organization_id,
        start,
        end,
    )
    return int(value or 0)


async def lock_plan(conn: asyncpg.Connection, organization_id: UUID) -> str | None:
    """Lock the organization row for this transaction and return its plan: creations that
    count against a plan limit run one at a time per organization."""
    return await conn.fetchval("SELECT plan FROM organizations WHERE id = $1 FOR UPDATE", organization_id)


_COUNTS: dict[Counted, str] = {
    "workflows": "SELECT count(*) FROM workflows WHERE organization_id = $1 AND archived_at IS NULL",
    "phone_numbers": "SELECT count(*) FROM phone_numbers WHERE organization_id = $1",
}


async def count(conn: Conn, organization_id: UUID, what: Counted) -> int:
    """The organization's workflows (not archived) or phone numbers."""
    return int(await conn.fetchval(_COUNTS[what], organization_id) or 0)


async def record_alert(
    conn: Conn, organization_id: UUID, *, period_start: datetime, threshold: int,
    minutes_used: int, included_minutes: int,
) -> bool:  # fmt: skip
    """Record that ``threshold`` was reached in the period; False when it already was (the
    alert was sent, or is being sent, by someone else)."""
    row = await conn.fetchrow(
        """INSERT INTO usage_alerts (organization_id, period_start, threshold, minutes_used,
                                     included_minutes)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT DO NOTHING RETURNING threshold""",
        organization_id,
        period_start,
        threshold,
        minutes_used,
        included_minutes,
    )
    return row is not None
