"""The calls list with every filter the console offers: status, workflow, direction, a number
(from or to), end reason, creation range and full-text search in the transcript.

Kept apart from ``db/calls.py`` (the call lifecycle's queries). Org-scoped like every read:
the calls and the turns searched both filter on ``organization_id``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

from db.calls import _COLUMNS

Conn = asyncpg.Pool | asyncpg.Connection

SEARCH_CONFIG = "simple"  # matches the index of migrations/0021_console.sql


@dataclass(frozen=True, slots=True)
class CallFilters:
    status: str | None = None
    workflow_id: UUID | None = None
    direction: str | None = None
    number: str | None = None  # digits (optionally a leading +): part of from or to
    end_reason: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    text: str | None = None  # web-search syntax: words, "a phrase", -excluded, or


async def list_calls(
    conn: Conn,
    organization_id: UUID,
    filters: CallFilters,
    *,
    limit: int,
    before: tuple[datetime, UUID] | None = None,
) -> list[asyncpg.Record]:
    """Newest first; ``before`` is the (created_at, id) cursor of the last row seen."""
    where = ["c.organization_id = $1"]
    args: list[object] = [organization_id]

    def arg(value: object) -> str:
        args.append(value)
        return f"${len(args)}"

    f = filters
    if f.status is not None:
        where.append(f"c.status = {arg(f.status)}")
    if f.workflow_id is not None:
        where.append(f"c.workflow_id = {arg(f.workflow_id)}")
    if f.direction is not None:
        where.append(f"c.direction = {arg(f.direction)}")
    if f.end_reason is not None:
        where.append(f"c.end_reason = {arg(f.end_reason)}")
    if f.number is not None:
        # digits only (the API checks it), so no LIKE wildcard can come from the caller
        pattern = arg("%" + f.number + "%")
        where.append(f"(c.from_number LIKE {pattern} OR c.to_number LIKE {pattern})")
    if f.created_from is not None:
        where.append(f"c.created_at >= {arg(f.created_from)}")
    if f.created_to is not None:
        where.append(f"c.created_at < {arg(f.created_to)}")
    if f.text is not None:
        where.append(
            f"""EXISTS (SELECT 1 FROM call_turns t
                         WHERE t.call_id = c.id AND t.organization_id = $1
                           AND to_tsvector('{SEARCH_CONFIG}', t.text)
                               @@ websearch_to_tsquery('{SEARCH_CONFIG}', {arg(f.text)}))"""
        )
    if before is not None:
        where.append(f"(c.created_at, c.id) < ({arg(before[0])}, {arg(before[1])}::uuid)")
    columns = ", ".join(f"c.{c.strip()}" for c in _COLUMNS.split(","))
    return await conn.fetch(
        f"""SELECT {columns} FROM calls c
             WHERE {" AND ".join(where)}
             ORDER BY c.created_at DESC, c.id DESC
             LIMIT {arg(limit)}""",
        *args,
    )
