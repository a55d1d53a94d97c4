"""The audit log: append-only, organization-scoped, newest first."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

Conn = asyncpg.Pool | asyncpg.Connection

_COLUMNS = (
    "id, organization_id, actor_user_id, actor_api_key_id, action, target_type, target_id,"
    " details, ip, created_at"
)


async def insert(
    conn: Conn,
    organization_id: UUID,
    *,
    action: str,
    actor_user_id: UUID | None,
    actor_api_key_id: UUID | None,
    target_type: str,
    target_id: str,
    details: dict[str, Any],
    ip: str | None,
) -> None:
    await conn.execute(
        """INSERT INTO audit_log (organization_id, actor_user_id, actor_api_key_id, action,
                                  target_type, target_id, details, ip)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)""",
        organization_id, actor_user_id, actor_api_key_id, action, target_type, target_id,
        details, ip,
    )  # fmt: skip


async def list_page(
    conn: Conn,
    organization_id: UUID,
    *,
    action: str | None = None,
    after: tuple[datetime, UUID] | None = None,
    limit: int = 50,
) -> list[asyncpg.Record]:
    """Newest first; ``after`` is the (created_at, id) of the last row of the previous page."""
    return await conn.fetch(
        f"""SELECT {_COLUMNS} FROM audit_log
             WHERE organization_id = $1
               AND ($2::text IS NULL OR action = $2)
               AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4::uuid))
          ORDER BY created_at DESC, id DESC
             LIMIT $5""",
        organization_id, action, after[0] if after else None, after[1] if after else None, limit,
    )  # fmt: skip
