"""The PostgreSQL job queue: enqueue, claim with FOR UPDATE SKIP LOCKED, finish, retry.

A claimed job is ``running`` with a lease (``locked_at``); a worker that dies leaves the
lease to expire, after which another worker claims the job again; a worker that stops
``release``s its unfinished jobs at once. Failures go back to ``queued`` with a later
``run_at`` (the caller computes the backoff) until ``max_attempts``. Higher ``priority``
runs first; a ``dedupe_key`` makes an enqueue idempotent per kind. Periodic jobs are rows of
``job_schedules``, claimed once per interval across the fleet (``claim_schedule``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import asyncpg

Conn = asyncpg.Pool | asyncpg.Connection
NOTIFY_CHANNEL = "switchboard_jobs"
# ``priority``: higher is claimed first.
PRIORITY_HIGH = 10  # customer-visible and time-bound: webhook deliveries, meter events
PRIORITY_NORMAL = 0  # post-call work
PRIORITY_LOW = -10  # housekeeping that can wait
_COLUMNS = (
    "id, kind, organization_id, payload, status, run_at, attempts, max_attempts, last_error, "
    "locked_by, locked_at, created_at, finished_at, priority, dedupe_key"
)


async def enqueue(
    conn: Conn,
    kind: str,
    payload: dict[str, Any],
    *,
    organization_id: UUID | None = None,
    delay_seconds: float = 0.0,
    max_attempts: int = 8,
    priority: int = 0,
    dedupe_key: str | None = None,
) -> asyncpg.Record:
    """Queue a job; with ``dedupe_key``, a job of this kind with that key already kept
    (queued, running or finished within the retention) is returned instead of a new one."""
    row = await conn.fetchrow(
        f"""INSERT INTO jobs (kind, organization_id, payload, run_at, max_attempts, priority,
                              dedupe_key)
            VALUES ($1, $2, $3, now() + make_interval(secs => $4), $5, $6, $7)
            ON CONFLICT (kind, dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING
            RETURNING {_COLUMNS}""",
        kind, organization_id, payload, delay_seconds, max_attempts, priority, dedupe_key,
    )
    if row is None:  # a duplicate: the job already queued (or done) under this key
        existing = await conn.fetchrow(
            f"SELECT {_COLUMNS} FROM jobs WHERE kind = $1 AND dedupe_key = $2",
            kind, dedupe_key)
        assert existing is not None
        return existing
    await conn.execute("SELECT pg_notify($1, $2)", NOTIFY_CHANNEL, kind)
    return row


async def enqueue_many(conn: Conn, kind: str, payloads: Sequence[dict[str, Any]], *,
                       organization_id: UUID | None = None, priority: int = 0) -> int:
    """Queue one job per payload in one statement (no dedupe keys); one NOTIFY."""
    result = await conn.execute(
        """INSERT INTO jobs (kind, organization_id, payload, priority)
           SELECT $1, $2, p, $4 FROM unnest($3::jsonb[]) AS p""",
        kind, organization_id, list(payloads), priority,
    )
    await conn.execute("SELECT pg_notify($1, $2)", NOTIFY_CHANNEL, kind)
    return int(result.split()[-1])


async def claim(conn: Conn, worker_id: str, *, limit: int, lease_seconds: float,
                served_last: Sequence[UUID] = ()) -> list[asyncpg.Record]:
    """Take up to ``limit`` due jobs (and expired leases) for this worker.

    Higher ``priority`` first. Within a priority, fair across organizations: each
    organization's due jobs are numbered oldest first, offset by how many of its jobs are
    already running (and by one for the organizations in ``served_last``, those of the
    worker's previous claim), and claimed in that order (round-robin), so one
    organization's backlog cannot delay every other one's jobs.
    """
    return await conn.fetch(
        f"""UPDATE jobs SET status = 'running', attempts = attempts + 1,
                   locked_by = $1, locked_at = now()
             WHERE id IN (
                   SELECT j.id FROM jobs j
                     JOIN (SELECT d.id, d.run_at, d.priority,
                                  row_number() OVER (PARTITION BY d.organization_id,
                                                                  d.priority
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
                 ORDER BY due.priority DESC, due.turn, due.run_at
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


async def release(conn: Conn, job_id: UUID, worker_id: str) -> bool:
    """Hand a job this worker holds back to the queue at once (the worker is stopping): due
    now, lease cleared, the attempt not counted. False when the worker no longer held it."""
    result = await conn.execute(
        """UPDATE jobs SET status = 'queued', attempts = greatest(attempts - 1, 0),
                  locked_by = NULL, locked_at = NULL, run_at = now()
            WHERE id = $1 AND locked_by = $2 AND status = 'running'""",
        job_id, worker_id,
    )
    released = result.split()[-1] == "1"
    if released:
        await conn.execute("SELECT pg_notify($1, 'released')", NOTIFY_CHANNEL)
    return released


async def claim_schedule(conn: Conn, name: str, every_seconds: float, worker_id: str
                         ) -> bool:
    """True when this worker should run the schedule ``name`` now: its ``next_run_at`` was
    due and this UPDATE moved it one interval on (concurrent workers see it moved; one
    runs it per interval across the fleet)."""
    await conn.execute(
        "INSERT INTO job_schedules (name) VALUES ($1) ON CONFLICT (name) DO NOTHING", name)
    result = await conn.execute(
        """UPDATE job_schedules
              SET next_run_at = now() + make_interval(secs => $2), last_run_at = now(),
                  last_run_by = $3
            WHERE name = $1 AND next_run_at <= now()""",
        name, every_seconds, worker_id,
    )
    return result.split()[-1] == "1"


async def record_schedule_error(conn: Conn, name: str, error: str | None) -> None:
    await conn.execute("UPDATE job_schedules SET last_error = $2 WHERE name = $1",
                       name, None if error is None else error[:2000])


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
