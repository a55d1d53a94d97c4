"""The fleet's call bookkeeping: heartbeats of live calls and the sweep of lost ones.

Keyed by the call ids the server itself created (like the live-call writes in
``db/calls.py``); the sweep is fleet-wide housekeeping over every organization's calls,
serialized by a transaction-scoped advisory lock so one instance sweeps at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

import asyncpg

SWEEP_LOCK = 0x5377_6565_7043  # pg advisory lock key of the lost-call sweep ("SweepC")


@dataclass(frozen=True, slots=True)
class LostCall:
    id: UUID
    organization_id: UUID
    end_reason: str
    duration_seconds: float


async def heartbeat(conn: asyncpg.Pool | asyncpg.Connection, instance_id: str,
                    call_ids: Sequence[UUID]) -> int:  # fmt: skip
    """One batched write: these calls are alive on ``instance_id`` now."""
    if not call_ids:
        return 0
    status = await conn.execute(
        """UPDATE calls SET heartbeat_at = now(), instance_id = $1
            WHERE id = ANY($2::uuid[]) AND ended_at IS NULL""",
        instance_id, list(call_ids),
    )  # fmt: skip
    return int(status.split()[-1])


async def sweep_lost(pool: asyncpg.Pool, *, lost_after_seconds: float,
                     limit: int = 500) -> list[LostCall] | None:  # fmt: skip
    """Finalize calls not ended whose last sign of life (heartbeat, else creation) is older
    than ``lost_after_seconds``: ``failed`` with ``instance_lost`` (``never_connected`` when
    never answered); turns stay. None when another instance holds the sweep."""
    async with pool.acquire() as conn, conn.transaction():
        if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", SWEEP_LOCK):
            return None
        rows = await conn.fetch(
            """WITH lost AS (
                   SELECT id FROM calls
                    WHERE ended_at IS NULL
                      AND COALESCE(heartbeat_at, created_at) < now() - make_interval(secs => $1)
                    ORDER BY COALESCE(heartbeat_at, created_at)
                    LIMIT $2
                      FOR UPDATE SKIP LOCKED)
               UPDATE calls c
                  SET status = 'failed',
                      end_reason = CASE WHEN c.answered_at IS NULL THEN 'never_connected'
                                        ELSE 'instance_lost' END,
                      ended_at = GREATEST(COALESCE(c.heartbeat_at, c.created_at), c.answered_at),
                      duration_seconds = CASE WHEN c.answered_at IS NULL THEN 0
                          ELSE GREATEST(0, EXTRACT(EPOCH FROM (
                              COALESCE(c.heartbeat_at, c.answered_at) - c.answered_at))) END
                 FROM lost WHERE c.id = lost.id
            RETURNING c.id, c.organization_id, c.end_reason, c.duration_seconds""",
            float(lost_after_seconds), limit,
        )  # fmt: skip
    return [LostCall(r["id"], r["organization_id"], r["end_reason"],
                     float(r["duration_seconds"] or 0.0)) for r in rows]  # fmt: skip
