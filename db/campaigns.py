"""Campaigns and their dial attempts: the configuration, state changes, and the
dispatcher's claim transaction (campaign row locked with SKIP LOCKED, so one instance at a
time paces a campaign; contacts claimed with SKIP LOCKED; attempts written before dialing).

Every query filters on ``organization_id``; the dispatcher's scan of running campaigns is
the one cross-organization read, and returns only ids with their organization."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

Conn = asyncpg.Pool | asyncpg.Connection

_COLUMNS = (
    "id, organization_id, name, workflow_id, state, config, caller_ids, max_concurrent_calls, "
    "calls_per_minute, time_zone, started_at, finished_at, created_at, updated_at"
)
_ATTEMPT = (
    "id, contact_id, attempt, idempotency_key, call_id, caller_id, state, outcome, "
    "carrier_call_id, dialed_at, ended_at"
)


async def create(conn: Conn, organization_id: UUID, *, name: str, workflow_id: UUID,
                 config: dict[str, Any], caller_ids: list[str], max_concurrent_calls: int,
                 calls_per_minute: int, time_zone: str) -> asyncpg.Record:  # fmt: skip
    return await conn.fetchrow(
        f"""INSERT INTO campaigns (organization_id, name, workflow_id, config, caller_ids,
                                   max_concurrent_calls, calls_per_minute, time_zone)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {_COLUMNS}""",
        organization_id, name, workflow_id, config, caller_ids, max_concurrent_calls,
        calls_per_minute, time_zone,
    )  # fmt: skip


async def get(conn: Conn, organization_id: UUID, campaign_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM campaigns WHERE organization_id = $1 AND id = $2",
        organization_id, campaign_id,
    )  # fmt: skip


async def list_for_org(conn: Conn, organization_id: UUID, *, limit: int,
                       before: tuple[datetime, UUID] | None = None) -> list[asyncpg.Record]:  # fmt: skip
    return await conn.fetch(
        f"""SELECT {_COLUMNS} FROM campaigns WHERE organization_id = $1
              AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3::uuid))
            ORDER BY created_at DESC, id DESC LIMIT $4""",
        organization_id, before[0] if before else None, before[1] if before else None, limit,
    )  # fmt: skip


async def transition(conn: Conn, organization_id: UUID, campaign_id: UUID, *,
                     from_states: tuple[str, ...], to_state: str,
                     config: dict[str, Any] | None = None) -> asyncpg.Record | None:  # fmt: skip
    """Move the campaign from one of ``from_states`` to ``to_state`` (None: it is in none)."""
    return await conn.fetchrow(
        f"""UPDATE campaigns SET state = $4, updated_at = now(),
                   config = COALESCE($5, config),
                   started_at = CASE WHEN $4 = 'running' THEN COALESCE(started_at, now())
                                     ELSE started_at END,
                   finished_at = CASE WHEN $4 IN ('completed', 'canceled') THEN now()
                                      ELSE finished_at END
             WHERE organization_id = $1 AND id = $2 AND state = ANY($3::text[])
            RETURNING {_COLUMNS}""",
        organization_id, campaign_id, list(from_states), to_state, config,
    )  # fmt: skip


async def cancel_pending(conn: Conn, organization_id: UUID, campaign_id: UUID) -> int:
    result = await conn.execute(
        """UPDATE campaign_contacts SET state = 'canceled', finished_at = now()
            WHERE organization_id = $1 AND campaign_id = $2 AND state = 'pending'""",
        organization_id, campaign_id,
    )  # fmt: skip
    return int(result.split()[-1])


# -- the dispatcher -----------------------------------------------------------------------


async def active_campaigns(conn: Conn) -> list[asyncpg.Record]:
    """Campaigns with work: running ones, and paused/canceled ones with attempts in flight."""
    return await conn.fetch(
        """SELECT c.id, c.organization_id FROM campaigns c
            WHERE c.state = 'running'
               OR (c.state IN ('paused', 'canceled') AND EXISTS (
                   SELECT 1 FROM campaign_attempts a
                    WHERE a.campaign_id = c.id AND a.organization_id = c.organization_id
                      AND a.state <> 'ended'))"""
    )


async def lock(conn: asyncpg.Connection, organization_id: UUID,
               campaign_id: UUID) -> asyncpg.Record | None:  # fmt: skip
    """The campaign row, locked for this transaction; None when another instance holds it."""
    return await conn.fetchrow(
        f"""SELECT {_COLUMNS} FROM campaigns WHERE organization_id = $1 AND id = $2
            FOR UPDATE SKIP LOCKED""",
        organization_id, campaign_id,
    )  # fmt: skip


async def end_attempts_of_ended_calls(conn: asyncpg.Connection, organization_id: UUID,
                                      campaign_id: UUID) -> None:  # fmt: skip
    """Attempts whose call row has ended take the call's outcome."""
    await conn.execute(
        """UPDATE campaign_attempts a SET state = 'ended', ended_at = c.ended_at,
                  carrier_call_id = COALESCE(a.carrier_call_id, c.carrier_call_id),
                  outcome = CASE WHEN c.end_reason = 'voicemail' THEN 'voicemail'
                                 WHEN c.status IN ('completed', 'busy', 'no-answer', 'failed')
                                 THEN c.status ELSE 'failed' END
             FROM calls c
            WHERE a.organization_id = $1 AND a.campaign_id = $2 AND a.state <> 'ended'
              AND c.id = a.call_id AND c.organization_id = a.organization_id
              AND c.ended_at IS NOT NULL""",
        organization_id, campaign_id,
    )  # fmt: skip


async def settled_contacts(conn: asyncpg.Connection, organization_id: UUID,
                           campaign_id: UUID) -> list[asyncpg.Record]:  # fmt: skip
    """Contacts still ``calling`` whose latest attempt has ended (locked)."""
    return await conn.fetch(
        """SELECT ct.id, ct.phone_number, ct.attempts, ct.variables, a.outcome, a.call_id
             FROM campaign_contacts ct
             JOIN campaign_attempts a ON a.contact_id = ct.id AND a.attempt = ct.attempts
              AND a.organization_id = ct.organization_id
            WHERE ct.organization_id = $1 AND ct.campaign_id = $2 AND ct.state = 'calling'
              AND a.state = 'ended'
            FOR UPDATE OF ct SKIP LOCKED""",
        organization_id, campaign_id,
    )  # fmt: skip


async def settle_contacts(
    conn: asyncpg.Connection, organization_id: UUID, rows: list[tuple[UUID, str, datetime, str | None, bool]]
) -> None:
    """(contact id, state, next attempt at, last outcome, finished) for each contact."""
    await conn.executemany(
        """UPDATE campaign_contacts SET state = $3, next_attempt_at = $4, last_outcome = $5,
                  finished_at = CASE WHEN $6 THEN now() ELSE NULL END
            WHERE organization_id = $1 AND id = $2""",
        [(organization_id, *row) for row in rows],
    )


async def stale_dialing(conn: asyncpg.Connection, organization_id: UUID, campaign_id: UUID,
                        lease_seconds: float) -> list[asyncpg.Record]:  # fmt: skip
    """Attempts left ``dialing`` past their lease (their dialer died): leased again to this
    caller, with their contact, to be re-sent with the same idempotency key."""
    return await conn.fetch(
        """UPDATE campaign_attempts a SET lease_until = now() + make_interval(secs => $3)
             FROM campaign_contacts ct
            WHERE a.id IN (SELECT id FROM campaign_attempts
                            WHERE organization_id = $1 AND campaign_id = $2
                              AND state = 'dialing' AND lease_until < now()
                            FOR UPDATE SKIP LOCKED)
              AND ct.id = a.contact_id AND ct.organization_id = a.organization_id
        RETURNING a.id, a.contact_id, a.attempt, a.idempotency_key, a.call_id, a.caller_id,
                  ct.phone_number, ct.variables""",
        organization_id, campaign_id, lease_seconds,
    )  # fmt: skip


async def load(conn: asyncpg.Connection, organization_id: UUID, campaign_id: UUID,
               since: datetime) -> tuple[int, int]:  # fmt: skip
    """(attempts in flight, attempts dialed since ``since``): what pacing counts."""
    row = await conn.fetchrow(
        """SELECT count(*) FILTER (WHERE state <> 'ended') AS open,
                  count(*) FILTER (WHERE dialed_at > $3) AS recent
             FROM campaign_attempts
            WHERE organization_id = $1 AND campaign_id = $2
              AND (state <> 'ended' OR dialed_at > $3)""",
        organization_id, campaign_id, since,
    )  # fmt: skip
    return int(row["open"]), int(row["recent"])


async def due_contacts(conn: asyncpg.Connection, organization_id: UUID, campaign_id: UUID,
                       now: datetime, limit: int) -> list[asyncpg.Record]:  # fmt: skip
    return await conn.fetch(
        """SELECT id, row_number, phone_number, time_zone, variables, attempts
             FROM campaign_contacts
            WHERE organization_id = $1 AND campaign_id = $2 AND state = 'pending'
              AND next_attempt_at <= $3
            ORDER BY next_attempt_at, row_number LIMIT $4
            FOR UPDATE SKIP LOCKED""",
        organization_id, campaign_id, now, limit,
    )  # fmt: skip


async def defer_contacts(conn: asyncpg.Connection, organization_id: UUID,
                         rows: list[tuple[UUID, datetime]]) -> None:  # fmt: skip
    await conn.executemany(
        "UPDATE campaign_contacts SET next_attempt_at = $3 WHERE organization_id = $1 AND id = $2",
        [(organization_id, *row) for row in rows],
    )


async def create_attempts(conn: asyncpg.Connection, organization_id: UUID, campaign_id: UUID,
                          rows: list[tuple[UUID, UUID, int, str, UUID, str]],
                          dialed_at: datetime, lease_seconds: float) -> None:  # fmt: skip
    """(attempt id, contact id, attempt number, idempotency key, call id, caller id) each:
    written before anything is dialed; their contacts become ``calling``."""
    await conn.executemany(
        """INSERT INTO campaign_attempts (id, organization_id, campaign_id, contact_id, attempt,
                                          idempotency_key, call_id, caller_id, lease_until,
                                          dialed_at)
           VALUES ($3, $1, $2, $4, $5, $6, $7, $8, now() + make_interval(secs => $10), $9)""",
        [(organization_id, campaign_id, *row, dialed_at, lease_seconds) for row in rows],
    )
    await conn.execute(
        """UPDATE campaign_contacts SET state = 'calling', attempts = attempts + 1
            WHERE organization_id = $1 AND id = ANY($2::uuid[])""",
        organization_id, [row[1] for row in rows],
    )  # fmt: skip


async def contact_counts(conn: Conn, organization_id: UUID, campaign_id: UUID) -> dict[str, int]:
    rows = await conn.fetch(
        """SELECT state, count(*) AS n FROM campaign_contacts
            WHERE organization_id = $1 AND campaign_id = $2 GROUP BY state""",
        organization_id, campaign_id,
    )  # fmt: skip
    return {r["state"]: int(r["n"]) for r in rows}


# -- one attempt's dial -------------------------------------------------------------------


async def link_call(conn: Conn, organization_id: UUID, call_id: UUID, campaign_id: UUID,
                    contact_id: UUID) -> None:  # fmt: skip
    await conn.execute(
        """UPDATE calls SET campaign_id = $3, campaign_contact_id = $4
            WHERE organization_id = $1 AND id = $2""",
        organization_id, call_id, campaign_id, contact_id,
    )  # fmt: skip


async def mark_dialed(conn: Conn, organization_id: UUID, attempt_id: UUID,
                      carrier_call_id: str | None) -> None:  # fmt: skip
    """The dial is out: with the carrier's call id, or None for an in-doubt dial that is not
    sent again (its call row's callbacks tell what happened)."""
    await conn.execute(
        """UPDATE campaign_attempts SET state = 'dialed', carrier_call_id = $3
            WHERE organization_id = $1 AND id = $2 AND state = 'dialing'""",
        organization_id, attempt_id, carrier_call_id,
    )  # fmt: skip


async def end_attempt(conn: Conn, organization_id: UUID, attempt_id: UUID, outcome: str) -> None:
    """An attempt that could not dial (its caller id is gone): ended with ``outcome``."""
    await conn.execute(
        """UPDATE campaign_attempts SET state = 'ended', outcome = $3, ended_at = now()
            WHERE organization_id = $1 AND id = $2 AND state <> 'ended'""",
        organization_id, attempt_id, outcome,
    )  # fmt: skip


async def withdraw_attempt(conn: asyncpg.Pool, organization_id: UUID, attempt_id: UUID,
                           contact_id: UUID, retry_at: datetime) -> None:  # fmt: skip
    """Admission refused the attempt (concurrency, plan, instance full): it never happened;
    the contact is pending again from ``retry_at``."""
    async with conn.acquire() as c, c.transaction():
        deleted = await c.execute(
            """DELETE FROM campaign_attempts
                WHERE organization_id = $1 AND id = $2 AND state = 'dialing'""",
            organization_id, attempt_id,
        )  # fmt: skip
        if deleted.endswith(" 1"):
            await c.execute(
                """UPDATE campaign_contacts SET state = 'pending', attempts = attempts - 1,
                          next_attempt_at = $3
                    WHERE organization_id = $1 AND id = $2 AND state = 'calling'""",
                organization_id, contact_id, retry_at,
            )  # fmt: skip


async def attempts_for_contacts(conn: Conn, organization_id: UUID,
                                contact_ids: list[UUID]) -> list[asyncpg.Record]:  # fmt: skip
    """Each contact's attempts with their call's extracted variables and duration."""
    return await conn.fetch(
        f"""SELECT {", ".join("a." + c for c in _ATTEMPT.split(", "))},
                  c.extracted, c.duration_seconds, c.status AS call_status
             FROM campaign_attempts a
             LEFT JOIN calls c ON c.id = a.call_id AND c.organization_id = a.organization_id
            WHERE a.organization_id = $1 AND a.contact_id = ANY($2::uuid[])
            ORDER BY a.contact_id, a.attempt""",
        organization_id, contact_ids,
    )  # fmt: skip


async def attempt_stats(conn: Conn, organization_id: UUID, campaign_id: UUID) -> asyncpg.Record:
    return await conn.fetchrow(
        """SELECT count(*) AS attempts,
                  count(*) FILTER (WHERE a.state = 'ended') AS ended,
                  count(*) FILTER (WHERE a.outcome = 'completed') AS answered,
                  coalesce(sum(c.duration_seconds), 0) AS seconds
             FROM campaign_attempts a
             LEFT JOIN calls c ON c.id = a.call_id AND c.organization_id = a.organization_id
            WHERE a.organization_id = $1 AND a.campaign_id = $2""",
        organization_id, campaign_id,
    )  # fmt: skip


async def usage_totals(conn: Conn, organization_id: UUID, campaign_id: UUID) -> list[asyncpg.Record]:
    """The usage of every call of the campaign, summed per (kind, provider, model): what
    ``server.pricing`` turns into its cost, as for one call or the usage report."""
    return await conn.fetch(
        """SELECT u.kind, u.provider, u.model, sum(u.quantity) AS quantity
             FROM calls c
             JOIN usage_records u ON u.call_id = c.id AND u.organization_id = c.organization_id
            WHERE c.organization_id = $1 AND c.campaign_id = $2
            GROUP BY u.kind, u.provider, u.model""",
        organization_id, campaign_id,
    )  # fmt: skip


async def caller_numbers(conn: Conn, organization_id: UUID,
                         carrier_account_id: UUID | None) -> list[str]:  # fmt: skip
    """The organization's caller-id numbers (of one carrier account when given)."""
    rows = await conn.fetch(
        """SELECT number FROM phone_numbers
            WHERE organization_id = $1 AND caller_id_allowed
              AND ($2::uuid IS NULL OR carrier_account_id = $2)
            ORDER BY created_at""",
        organization_id, carrier_account_id,
    )  # fmt: skip
    return [r["number"] for r in rows]
