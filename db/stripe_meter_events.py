"""Billable minutes per usage record, and which of them were sent to Stripe's meter."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

Conn = asyncpg.Pool | asyncpg.Connection


@dataclass(frozen=True, slots=True)
class BillableUsage:
    """A call's billable seconds (its ``call_seconds`` usage record)."""

    usage_record_id: UUID
    organization_id: UUID
    seconds: float
    recorded_at: datetime
    sent_at: datetime | None


async def billable_for_call(conn: Conn, organization_id: UUID, call_id: UUID
                            ) -> list[BillableUsage]:  # fmt: skip
    rows = await conn.fetch(
        """SELECT u.id, u.organization_id, u.quantity, u.recorded_at, m.sent_at
             FROM usage_records u
             LEFT JOIN stripe_meter_events m ON m.usage_record_id = u.id
            WHERE u.organization_id = $1 AND u.call_id = $2 AND u.kind = 'call_seconds'
            ORDER BY u.id""",
        organization_id,
        call_id,
    )
    return [BillableUsage(r["id"], r["organization_id"], float(r["quantity"]), r["recorded_at"],
                          r["sent_at"]) for r in rows]  # fmt: skip


async def billable_in_period(conn: Conn, organization_id: UUID, *, start: datetime,
                             end: datetime) -> list[BillableUsage]:  # fmt: skip
    """The organization's billable usage recorded in [start, end)."""
    rows = await conn.fetch(
        """SELECT u.id, u.organization_id, u.quantity, u.recorded_at, m.sent_at
             FROM usage_records u
             LEFT JOIN stripe_meter_events m ON m.usage_record_id = u.id
            WHERE u.organization_id = $1 AND u.kind = 'call_seconds'
              AND u.recorded_at >= $2 AND u.recorded_at < $3
            ORDER BY u.recorded_at, u.id""",
        organization_id,
        start,
        end,
    )
    return [BillableUsage(r["id"], r["organization_id"], float(r["quantity"]), r["recorded_at"],
                          r["sent_at"]) for r in rows]  # fmt: skip


async def mark_sent(conn: Conn, organization_id: UUID, usage_record_id: UUID, *,
                    identifier: str, minutes: int) -> None:  # fmt: skip
    await conn.execute(
        """INSERT INTO stripe_meter_events (usage_record_id, organization_id, identifier, minutes)
           VALUES ($1, $2, $3, $4) ON CONFLICT (usage_record_id) DO NOTHING""",
        usage_record_id,
        organization_id,
        identifier,
        minutes,
    )


async def organizations_with_usage(conn: Conn, *, start: datetime, end: datetime) -> list[UUID]:
    """Organizations with billable usage recorded in [start, end) (reconciliation)."""
    rows = await conn.fetch(
        """SELECT DISTINCT organization_id FROM usage_records
            WHERE kind = 'call_seconds' AND recorded_at >= $1 AND recorded_at < $2
            ORDER BY organization_id""",
        start,
        end,
    )
    return [r["organization_id"] for r in rows]
