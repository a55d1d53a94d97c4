"""The organization's do-not-call list (numbers no campaign dials)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

import asyncpg

Conn = asyncpg.Pool | asyncpg.Connection

_COLUMNS = "phone_number, reason, source, created_at"


async def add(conn: Conn, organization_id: UUID, phone_number: str, *, reason: str,
              source: str) -> tuple[asyncpg.Record, bool]:  # fmt: skip
    """The entry, and whether it is new (an existing entry is kept as it was)."""
    row = await conn.fetchrow(
        f"""INSERT INTO do_not_call (organization_id, phone_number, reason, source)
            VALUES ($1, $2, $3, $4) ON CONFLICT (organization_id, phone_number) DO NOTHING
            RETURNING {_COLUMNS}""",
        organization_id, phone_number, reason, source,
    )  # fmt: skip
    if row is not None:
        return row, True
    existing = await get(conn, organization_id, phone_number)
    assert existing is not None
    return existing, False


async def get(conn: Conn, organization_id: UUID, phone_number: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM do_not_call WHERE organization_id = $1 AND phone_number = $2",
        organization_id, phone_number,
    )  # fmt: skip


async def list_page(conn: Conn, organization_id: UUID, *, limit: int,
                    before: tuple[datetime, str] | None = None) -> list[asyncpg.Record]:  # fmt: skip
    return await conn.fetch(
        f"""SELECT {_COLUMNS} FROM do_not_call WHERE organization_id = $1
              AND ($2::timestamptz IS NULL OR (created_at, phone_number) < ($2, $3::text))
            ORDER BY created_at DESC, phone_number DESC LIMIT $4""",
        organization_id, before[0] if before else None, before[1] if before else None, limit,
    )  # fmt: skip


async def delete(conn: Conn, organization_id: UUID, phone_number: str) -> bool:
    result = await conn.execute(
        "DELETE FROM do_not_call WHERE organization_id = $1 AND phone_number = $2",
        organization_id, phone_number,
    )  # fmt: skip
    return result.endswith(" 1")


async def listed(conn: Conn, organization_id: UUID, numbers: Sequence[str]) -> set[str]:
    """Which of ``numbers`` are on the list."""
    rows = await conn.fetch(
        """SELECT phone_number FROM do_not_call
            WHERE organization_id = $1 AND phone_number = ANY($2::text[])""",
        organization_id, list(numbers),
    )  # fmt: skip
    return {r["phone_number"] for r in rows}
