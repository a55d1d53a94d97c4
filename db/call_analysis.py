"""Post-call analysis results stored on the call (extracted variables and summary)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

Conn = asyncpg.Pool | asyncpg.Connection


async def set_analysis(conn: Conn, organization_id: UUID, call_id: UUID, *,
                       extracted: dict[str, Any], summary: str) -> bool:
    row = await conn.fetchrow(
        """UPDATE calls SET extracted = $3, summary = $4
            WHERE organization_id = $1 AND id = $2 RETURNING id""",
        organization_id, call_id, extracted, summary,
    )
    return row is not None
