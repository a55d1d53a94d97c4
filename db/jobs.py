"""The PostgreSQL job queue: enqueue, claim with FOR UPDATE SKIP LOCKED, finish, retry.

A claimed job is ``running`` with a lease (``locked_at``); a worker that dies leaves the
lease to expire, after which another worker claims the job again. Failures go back to
``queued`` with a later ``run_at`` (the caller computes the backoff) until ``max_attempts``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import asyncpg

Conn = asyncpg.Pool | asyncpg.Connection
NOTIFY_CHANNEL = "switchboard_jobs"
_COLUMNS = (
    "id, kind, organization_id, payload, status, run_at, attempts, max_attempts, last_error, "
    "locked_by, locked_at, created_at, finished_at"
)


async def enqueue(
    conn: Conn,
    kind: str,
    payload: dict[str, Any],
    *,
    organization_id: UUID | None = None,
    delay_seconds: float = 0.0,
    max_attempts: int = 8,
) -> asyncpg.Record:
    row = await conn.fetchrow(
        f"""INSERT INTO jobs (kind, organization_id, payload, run_at, max_attempts)
            VALUES ($1, $2, $3, now() + make_interval(secs => $4), $5)
            RETURNING {_COLUMNS}""",
        kind, organization_id, payload, delay_seconds, max_attempts,
    )
    await conn.execute("SELECT pg_notify($1, $2)", NOTIFY_CHANNEL, kind)
    return row


async def claim(conn: Conn, worker_id: str, *, limit: int, lease_seconds: float,
                served_last: Sequence[UUID] = ()) -> list[asyncpg.Record]:
    """Take up to ``limit`` due jobs (and expired leases) for this worker.

    Fair across organizations: each organization's due jobs are numbered oldest first,
    offset by how many of its jobs are already running (and by one for the organizations
    in ``served_last``, those of the worker's previous claim), and claimed in that order
    (round-robin), so one organization's backlog cannot delay every other one's jobs.
    """
    return await conn.fetch(
        f"""UPDATE jobs SET status = 'running', attempts = attempts + 1,
                   locked_by = $1, locked_at = now()
             WHERE id IN (
                   SELECT j.id FROM jobs j
                     JOIN (SELECT d.id, d.run_at,
                                  row_number() OVER (PARTITION BY d.organization_id
                                                     ORDER BY d.run_at)
                                  + coalesce(r.running, 0)
                                  + CASE WHEN d.organization_id = ANY($4::uuid[])
                                         THEN 1 ELSE 0 END AS turn
                             FROM jobs d
                             LEFT JOIN (SELECT organization_id, count(*) AS running
                                          FROM jobs WHERE status = 'running'
                                         GROUP BY organization_id) r
                               ON r.organization_id IS NOT DISTINCT FROM d.organization_id
                            WHERE (d.status = 'queued' AND d.run_at <= now())
                               OR (d.status = 'running'
                                   AND d.locked_at < now() - make_interval(secs => $3))
                          ) due ON due.id = j.id
                    -- again on the locked row: a job another worker claimed (and committed)
                    -- after this snapshot is re-checked here, and skipped
                    WHERE (j.status = 'queued' AND j.run_at <= now())
                       OR (j.status = 'running'
                           AND j.locked_at < now() - make_interval(secs => $3))
                 ORDER BY due.turn, due.run_at
                    LIMIT $2
                      FOR UPDATE OF j SKIP LOCKED)
         RETURNING {_COLUMNS}""",
        worker_id, limit, lease_seconds, list(served_last),
    )


async def complete(conn: Conn, job_id: UUID) -> None:
    await conn.execute(
        """UPDATE jobs SET status = 'done', finished_at = now(), locked_by = NULL,
                  locked_at = NULL WHERE id = $1""",
        job_id,
    )


async def fail(conn: Conn, job_id: UUID, error: str, *, retry_in_seconds: float | None
               ) -> None:
    """Record a failed attempt: retry after ``retry_in_seconds``, or give up when None."""
    if retry_in_seconds is None:
        await conn.execute(
            """UPDATE jobs SET status = 'failed', last_error = $2, finished_at = now(),
                      locked_by = NULL, locked_at = NULL WHERE id = $1""",
            job_id, error[:2000],
        )
        return
    await conn.execute(
        """UPDATE jobs SET status = 'queued', last_error = $2, locked_by = NULL,
                  locked_at = NULL, run_at = now() + make_interval(secs => $3)
            WHERE id = $1""",
        job_id, error[:2000], retry_in_seconds,
    )


async def get(conn: Conn, job_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {_COLUMNS} FROM jobs WHERE id = $1", job_id)


async def purge_finished(conn: Conn, *, older_than_seconds: float) -> int:
    """Delete done/failed jobs finished longer ago than ``older_than_seconds``."""
    result = await conn.execute(
        """DELETE FROM jobs WHERE status IN ('done', 'failed')
              AND finished_at < now() - make_interval(secs => $1)""",
        older_than_seconds,
    )
    return int(result.split()[-1])
