"""Phone numbers: which organization, carrier account and workflow answer a number."""

from __future__ import annotations

from uuid import UUID

import asyncpg

Conn = asyncpg.Pool | asyncpg.Connection

_COLUMNS = """n.id, n.organization_id, n.number, n.carrier_account_id, n.workflow_id,
              n.caller_id_allowed, n.label, n.verified_at, n.created_at, n.updated_at,
              a.carrier"""
_FROM = """phone_numbers n JOIN carrier_accounts a
             ON a.id = n.carrier_account_id AND a.organization_id = n.organization_id"""


async def create(
    conn: Conn,
    organization_id: UUID,
    *,
    number: str,
    carrier_account_id: UUID,
    workflow_id: UUID | None,
    caller_id_allowed: bool,
    label: str | None,
    verified: bool = False,
) -> asyncpg.Record:
    """Insert; ``asyncpg.UniqueViolationError`` when this organization already has the
    number (other organizations' registrations never conflict). ``verified``: the carrier
    account confirmed holding the number now."""
    row = await conn.fetchrow(
        """INSERT INTO phone_numbers (organization_id, number, carrier_account_id, workflow_id,
                                      caller_id_allowed, label, verified_at)
           VALUES ($1, $2, $3, $4, $5, $6, CASE WHEN $7 THEN now() END) RETURNING id""",
        organization_id,
        number,
        carrier_account_id,
        workflow_id,
        caller_id_allowed,
        label,
        verified,
    )
    return await get(conn, organization_id, row["id"])  # type: ignore[return-value]


async def get(conn: Conn, organization_id: UUID, number_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM {_FROM} WHERE n.organization_id = $1 AND n.id = $2",
        organization_id,
        number_id,
    )


async def list_for_org(conn: Conn, organization_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"SELECT {_COLUMNS} FROM {_FROM} WHERE n.organization_id = $1 ORDER BY n.number",
        organization_id,
    )


async def update(
    conn: Conn,
    organization_id: UUID,
    number_id: UUID,
    *,
    fields: dict[str, object],
) -> asyncpg.Record | None:
    """Update the given columns (workflow_id, caller_id_allowed, label, carrier_account_id);
    a key present with ``None`` clears a nullable column."""
    allowed = ("workflow_id", "caller_id_allowed", "label", "carrier_account_id")
    sets, args = [], [organization_id, number_id]
    for name in allowed:
        if name in fields:
            args.append(fields[name])
            sets.append(f"{name} = ${len(args)}")
    if "carrier_account_id" in fields:
        sets.append("verified_at = NULL")  # verified against the old account only
    if sets:
        result = await conn.execute(
            f"UPDATE phone_numbers SET {', '.join(sets)}, updated_at = now() "  # noqa: S608
            "WHERE organization_id = $1 AND id = $2",
            *args,
        )
        if result != "UPDATE 1":
            return None
    return await get(conn, organization_id, number_id)


async def delete(conn: Conn, organization_id: UUID, number_id: UUID) -> bool:
    result = await conn.execute(
        "DELETE FROM phone_numbers WHERE organization_id = $1 AND id = $2",
        organization_id,
        number_id,
    )
    return result == "DELETE 1"


async def workflow_in_org(conn: Conn, organization_id: UUID, workflow_id: UUID) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM workflows "
            "WHERE organization_id = $1 AND id = $2 AND archived_at IS NULL)",
            organization_id,
            workflow_id,
        )
    )


async def resolve_inbound(conn: Conn, carrier: str, number: str) -> asyncpg.Record | None:
    """Everything the voice webhook needs about a dialled number, in one query: the number,
    its organization (plan, concurrency limit), the answering workflow and the carrier
    account credentials (still encrypted)."""
    return await conn.fetchrow(
        """SELECT n.id AS phone_number_id, n.organization_id, n.number, n.workflow_id,
                  a.id AS carrier_account_id, a.credentials,
                  o.plan, o.max_concurrent_calls
             FROM phone_numbers n
             JOIN carrier_accounts a
               ON a.id = n.carrier_account_id AND a.organization_id = n.organization_id
             JOIN organizations o ON o.id = n.organization_id
            WHERE n.number = $1 AND a.carrier = $2
            ORDER BY n.verified_at DESC NULLS LAST, n.created_at
            LIMIT 1""",
        number,
        carrier,
    )


async def caller_id_for(conn: Conn, organization_id: UUID, number: str | None) -> asyncpg.Record | None:
    """The number to call from: ``number`` when the organization owns it and it may be used
    as caller id, else (``number`` None) the organization's first caller-id number."""
    return await conn.fetchrow(
        f"""SELECT {_COLUMNS}, a.credentials, o.max_concurrent_calls
              FROM {_FROM} JOIN organizations o ON o.id = n.organization_id
             WHERE n.organization_id = $1 AND n.caller_id_allowed
               AND ($2::text IS NULL OR n.number = $2)
             ORDER BY n.created_at LIMIT 1""",
        organization_id,
        number,
    )
