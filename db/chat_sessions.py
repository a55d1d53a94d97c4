"""Text chat sessions (``POST /api/v1/workflows/{id}/chat``): the conversation state in
PostgreSQL, so any instance continues a session. Org-scoped; expired rows read as absent.

``revision`` counts saved turns: a save names the revision it read, so two instances
running a turn of the same session at once cannot both write (the second gets False).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg

Conn = asyncpg.Pool | asyncpg.Connection


@dataclass(frozen=True, slots=True)
class ChatRow:
    id: str
    organization_id: UUID
    workflow_id: UUID
    workflow_version: int | None
    definition: dict[str, Any]
    variables: dict[str, str]
    state: dict[str, Any]
    turns: int
    revision: int


def _plain(value: Any) -> Any:
    """JSON-able data (anything else as its string), for the jsonb codec."""
    return json.loads(json.dumps(value, default=str))


async def create(conn: Conn, session_id: str, organization_id: UUID, workflow_id: UUID, *,
                 version: int | None, definition: dict[str, Any], variables: dict[str, str],
                 state: dict[str, Any], turns: int = 0, ttl_seconds: float,
                 max_per_org: int) -> bool:  # fmt: skip
    """Store a new session unless the organization already has ``max_per_org`` live ones
    (False then). Expired sessions are purged on the way."""
    await conn.execute("DELETE FROM chat_sessions WHERE expires_at < now()")
    row = await conn.fetchval(
        """INSERT INTO chat_sessions (id, organization_id, workflow_id, workflow_version,
                  definition, variables, state, turns, expires_at)
           SELECT $1::text, $2::uuid, $3::uuid, $4::integer, $5::jsonb, $6::jsonb, $7::jsonb,
                  $10::integer, now() + make_interval(secs => $8)
            WHERE (SELECT count(*) FROM chat_sessions
                    WHERE organization_id = $2 AND expires_at > now()) < $9
        RETURNING id""",
        session_id, organization_id, workflow_id, version, definition, variables,
        _plain(state), float(ttl_seconds), max_per_org, turns,
    )  # fmt: skip
    return row is not None


async def count_live(conn: Conn, organization_id: UUID) -> int:
    return int(await conn.fetchval(
        "SELECT count(*) FROM chat_sessions WHERE organization_id = $1 AND expires_at > now()",
        organization_id,
    ))  # fmt: skip


async def get(conn: Conn, organization_id: UUID, workflow_id: UUID, session_id: str) -> ChatRow | None:
    row = await conn.fetchrow(
        """SELECT id, organization_id, workflow_id, workflow_version, definition, variables,
                  state, turns, revision
             FROM chat_sessions
            WHERE id = $1 AND organization_id = $2 AND workflow_id = $3 AND expires_at > now()""",
        session_id, organization_id, workflow_id,
    )  # fmt: skip
    if row is None:
        return None
    return ChatRow(row["id"], row["organization_id"], row["workflow_id"], row["workflow_version"],
                   row["definition"], row["variables"], row["state"],
                   row["turns"], row["revision"])  # fmt: skip


async def save(conn: Conn, organization_id: UUID, session_id: str, *, revision: int,
               state: dict[str, Any], turns: int, ttl_seconds: float) -> bool:  # fmt: skip
    """Store the state after a turn, if nobody saved since ``revision`` was read."""
    row = await conn.fetchval(
        """UPDATE chat_sessions
              SET state = $4, turns = $5, revision = revision + 1,
                  expires_at = now() + make_interval(secs => $6)
            WHERE id = $1 AND organization_id = $2 AND revision = $3 AND expires_at > now()
        RETURNING revision""",
        session_id, organization_id, revision, _plain(state), turns,
        float(ttl_seconds),
    )  # fmt: skip
    return row is not None
