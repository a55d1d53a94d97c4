"""The console's home summary: counts and voice-to-voice percentiles for one organization.

Every query filters on ``organization_id`` (the caller's, from the token) in SQL; the turns
query also joins on it, so a turn is only counted through a call of the same organization.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg

Conn = asyncpg.Pool | asyncpg.Connection

LIVE = ("queued", "ringing", "in-progress")


async def call_counts(conn: Conn, organization_id: UUID, *, day_start: datetime,
                      period_start: datetime) -> asyncpg.Record:  # fmt: skip
    """Calls and failures since ``day_start``, billable minutes since ``period_start``, live now."""
    return await conn.fetchrow(
        """SELECT count(*) FILTER (WHERE started_at >= $2)                         AS calls_today,
                  count(*) FILTER (WHERE started_at >= $2 AND status = 'failed')  AS failed_today,
                  count(*) FILTER (WHERE ended_at IS NULL AND status = ANY($4::text[])
                                   AND started_at > now() - interval '1 day')     AS live,
                  coalesce(sum(duration_seconds) FILTER (WHERE started_at >= $3), 0)
                                                                                   AS seconds_period
             FROM calls
            WHERE organization_id = $1 AND started_at >= least($2, $3)""",
        organization_id, day_start, period_start, list(LIVE),
    )  # fmt: skip


async def voice_to_voice(conn: Conn, organization_id: UUID, *, since: datetime) -> asyncpg.Record:
    """p50/p95 of first_audio_out_ms (end of the caller's speech -> first agent audio out)."""
    return await conn.fetchrow(
        """SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY t.first_audio_out_ms)  AS p50,
                  percentile_cont(0.95) WITHIN GROUP (ORDER BY t.first_audio_out_ms) AS p95,
                  count(t.first_audio_out_ms)                                         AS turns
             FROM call_turns t
             JOIN calls c ON c.id = t.call_id AND c.organization_id = t.organization_id
            WHERE t.organization_id = $1 AND c.organization_id = $1
              AND c.started_at >= $2 AND t.first_audio_out_ms IS NOT NULL""",
        organization_id, since,
    )  # fmt: skip
