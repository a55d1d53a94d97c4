"""A campaign's contacts: batched import, listing (filtered, paged by row number) and the
cursor the results CSV streams from."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any
from uuid import UUID

import asyncpg

Conn = asyncpg.Pool | asyncpg.Connection

# a contact never tried is due from '-infinity' (first in the dispatch order); it reads as null
_COLUMNS = (
    "id, row_number, phone_number, time_zone, variables, state, attempts, "
    "NULLIF(next_attempt_at, '-infinity') AS next_attempt_at, last_outcome, finished_at, created_at"
)


async def insert_batch(conn: Conn, organization_id: UUID, campaign_id: UUID,
                       rows: Sequence[tuple[int, str, str, str]]) -> set[int]:  # fmt: skip
    """Insert (row number, E.164 number, time zone, variables JSON) rows in one statement;
    the row numbers inserted (a number already in the campaign is skipped)."""
    if not rows:
        return set()
    inserted = await conn.fetch(
        """INSERT INTO campaign_contacts (organization_id, campaign_id, row_number, phone_number,
                                          time_zone, variables)
           SELECT $1, $2, r, p, z, v::jsonb
             FROM unnest($3::int[], $4::text[], $5::text[], $6::text[]) AS t(r, p, z, v)
           ON CONFLICT (campaign_id, phone_number) DO NOTHING
           RETURNING row_number""",
        organization_id, campaign_id, [r[0] for r in rows], [r[1] for r in rows],
        [r[2] for r in rows], [r[3] for r in rows],
    )  # fmt: skip
    return {r["row_number"] for r in inserted}


async def next_row_number(conn: Conn, organization_id: UUID, campaign_id: UUID) -> int:
    return int(await conn.fetchval(
        """SELECT coalesce(max(row_number), 0) FROM campaign_contacts
            WHERE organization_id = $1 AND campaign_id = $2""",
        organization_id, campaign_id,
    ))  # fmt: skip


async def count(conn: Conn, organization_id: UUID, campaign_id: UUID) -> int:
    return int(await conn.fetchval(
        "SELECT count(*) FROM campaign_contacts WHERE organization_id = $1 AND campaign_id = $2",
        organization_id, campaign_id,
    ))  # fmt: skip


async def list_page(conn: Conn, organization_id: UUID, campaign_id: UUID, *,
                    states: list[str] | None, phone_number: str | None, after_row: int,
                    limit: int) -> list[asyncpg.Record]:  # fmt: skip
    return await conn.fetch(
        f"""SELECT {_COLUMNS} FROM campaign_contacts
             WHERE organization_id = $1 AND campaign_id = $2 AND row_number > $3
               AND ($4::text[] IS NULL OR state = ANY($4))
               AND ($5::text IS NULL OR phone_number = $5)
             ORDER BY row_number LIMIT $6""",
        organization_id, campaign_id, after_row, states, phone_number, limit,
    )  # fmt: skip


async def stream_results(
    pool: asyncpg.Pool, organization_id: UUID, campaign_id: UUID, batch: int = 1000
) -> AsyncIterator[list[asyncpg.Record]]:
    """Every contact with its last attempt's call (status, duration, extracted variables) and
    the usage of all its attempts' calls (``usage``: [kind, provider, model, quantity] each,
    or NULL), in row order, a batch at a time (keyset pages: no transaction held)."""
    after = 0
    while True:
        rows = await pool.fetch(
            """SELECT ct.row_number, ct.phone_number, ct.time_zone, ct.state, ct.attempts,
                      ct.last_outcome, ct.variables, ct.finished_at, a.call_id,
                      c.duration_seconds, c.extracted, us.usage
                 FROM campaign_contacts ct
                 LEFT JOIN campaign_attempts a ON a.contact_id = ct.id
                  AND a.attempt = ct.attempts AND a.organization_id = ct.organization_id
                 LEFT JOIN calls c ON c.id = a.call_id AND c.organization_id = ct.organization_id
                 LEFT JOIN LATERAL (
                      SELECT jsonb_agg(jsonb_build_array(u.kind, u.provider, u.model, u.quantity))
                             AS usage
                        FROM campaign_attempts every
                        JOIN usage_records u ON u.call_id = every.call_id
                         AND u.organization_id = every.organization_id
                       WHERE every.contact_id = ct.id AND every.organization_id = ct.organization_id
                 ) us ON true
                WHERE ct.organization_id = $1 AND ct.campaign_id = $2 AND ct.row_number > $3
                ORDER BY ct.row_number LIMIT $4""",
            organization_id, campaign_id, after, batch,
        )  # fmt: skip
        if not rows:
            return
        yield list(rows)
        after = rows[-1]["row_number"]


async def opt_out_contacts(conn: Conn, organization_id: UUID, phone_number: str) -> int:
    """The number's pending contacts in every campaign of the organization stop."""
    result = await conn.execute(
        """UPDATE campaign_contacts SET state = 'opted-out', finished_at = now()
            WHERE organization_id = $1 AND phone_number = $2 AND state = 'pending'""",
        organization_id, phone_number,
    )  # fmt: skip
    return int(result.split()[-1])


def as_dict(row: asyncpg.Record) -> dict[str, Any]:
    return dict(row.items())
