"""What the console's live stream reads: an organization's calls in progress (plus the ones
it is following, to see them end) and the turns after the last one it sent. Org-scoped."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

import asyncpg

from db.calls import _COLUMNS, _TURN_COLUMNS

Conn = asyncpg.Pool | asyncpg.Connection

LIVE_WITHIN = "1 day"  # a row never ended (a crashed instance) stops counting as live


async def live_calls(conn: Conn, organization_id: UUID, following: Sequence[UUID],
                     *, limit: int = 100) -> list[asyncpg.Record]:  # fmt: skip
    """Calls in progress (newest first, at most ``limit``) and the ``following`` ones."""
    return await conn.fetch(
        f"""SELECT {_COLUMNS} FROM calls
             WHERE organization_id = $1
               AND ((ended_at IS NULL AND created_at > now() - interval '{LIVE_WITHIN}')
                    OR id = ANY($2::uuid[]))
          ORDER BY created_at DESC, id DESC
             LIMIT $3""",
        organization_id, list(following), limit + len(following),
    )  # fmt: skip


async def new_turns(conn: Conn, organization_id: UUID,
                    after: dict[UUID, int]) -> list[asyncpg.Record]:  # fmt: skip
    """Turns with an index above ``after[call_id]`` (-1: all), oldest first per call."""
    if not after:
        return []
    ids, last = list(after), [after[i] for i in after]
    return await conn.fetch(
        f"""SELECT t.call_id, {", ".join("t." + c.strip() for c in _TURN_COLUMNS.split(","))}
              FROM call_turns t
              JOIN unnest($2::uuid[], $3::int[]) AS seen(call_id, idx) ON seen.call_id = t.call_id
             WHERE t.organization_id = $1 AND t.idx > seen.idx
          ORDER BY t.call_id, t.idx""",
        organization_id, ids, last,
    )  # fmt: skip
