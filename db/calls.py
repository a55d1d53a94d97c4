"""Calls, their transcript turns and events.

Org-scoped reads take ``organization_id`` and filter on it in SQL; writes from a live call
(turns, events, finalization) are keyed by the call id the server itself created.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

import asyncpg

Conn = asyncpg.Pool | asyncpg.Connection


class CallStatus(StrEnum):
    """A call's status (the ``calls.status`` column; carriers normalize to these)."""

    QUEUED = "queued"
    RINGING = "ringing"
    IN_PROGRESS = "in-progress"
    COMPLETED = "completed"
    BUSY = "busy"
    NO_ANSWER = "no-answer"
    FAILED = "failed"
    CANCELED = "canceled"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_STATUSES

    @property
    def rank(self) -> int:
        """Progress order of the live statuses (terminal ones rank above all): a status
        update never moves a call to a lower rank."""
        return _RANK.get(self, len(_RANK) + 1)


TERMINAL_STATUSES = frozenset(
    {CallStatus.COMPLETED, CallStatus.BUSY, CallStatus.NO_ANSWER, CallStatus.FAILED,
     CallStatus.CANCELED}
)  # fmt: skip
_RANK = {CallStatus.QUEUED: 1, CallStatus.RINGING: 2, CallStatus.IN_PROGRESS: 3}


@dataclass(frozen=True, slots=True)
class CallRow:
    """A call as the call lifecycle reads it (not the API's view: see ``get``)."""

    id: UUID
    organization_id: UUID
    workflow_id: UUID | None
    workflow_version: int | None
    channel: str
    direction: str
    status: CallStatus
    test: bool
    variables: dict[str, Any]
    metadata: dict[str, Any]
    answered_at: datetime | None
    ended_at: datetime | None
    language: str | None = None  # BCP-47, decided at admission (NULL: before migration 0023)

    @classmethod
    def of(cls, row: asyncpg.Record) -> CallRow:
        return cls(
            id=row["id"], organization_id=row["organization_id"], workflow_id=row["workflow_id"],
            workflow_version=row["workflow_version"], channel=row["channel"],
            direction=row["direction"], status=CallStatus(row["status"]), test=row["test"],
            variables=dict(row["variables"] or {}), metadata=dict(row["metadata"] or {}),
            answered_at=row["answered_at"], ended_at=row["ended_at"], language=row["language"],
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class EndedCall:
    """What ``finalize`` reports about the call it just ended."""

    id: UUID
    organization_id: UUID
    status: CallStatus
    duration_seconds: float


_COLUMNS = (
    "id, organization_id, workflow_id, workflow_version, channel, direction, from_number, "
    "to_number, status, carrier, carrier_call_id, test, engine, started_at, answered_at, "
    "ended_at, end_reason, duration_seconds, recording_path, variables, extracted, summary, "
    "metadata, created_at, trace_id, language"
)
_TURN_COLUMNS = (
    "idx, speaker, text, started_at, ended_at, interrupted, node, tool, stt_final_ms, "
    "agent_first_token_ms, tts_first_audio_ms, first_audio_out_ms, user_bot_ms"
)


async def create(
    conn: Conn,
    organization_id: UUID,
    *,
    workflow_id: UUID | None,
    workflow_version: int | None,
    channel: str,
    direction: str,
    from_number: str | None,
    to_number: str | None,
    status: str,
    carrier: str | None,
    carrier_call_id: str | None,
    test: bool,
    variables: dict[str, Any],
    metadata: dict[str, Any],
    call_id: UUID | None = None,
    language: str | None = None,
) -> asyncpg.Record:
    """Create the call row (with ``call_id`` when given)."""
    return await conn.fetchrow(
        f"""INSERT INTO calls (id, organization_id, workflow_id, workflow_version, channel,
                   direction, from_number, to_number, status, carrier, carrier_call_id, test,
                   variables, metadata, language)
            VALUES (COALESCE($14, gen_random_uuid()), $1, $2, $3, $4, $5, $6, $7, $8, $9,
                    $10, $11, $12, $13, $15)
            RETURNING {_COLUMNS}""",
        organization_id, workflow_id, workflow_version, channel, direction, from_number,
        to_number, status, carrier, carrier_call_id, test, variables, metadata, call_id,
        language,
    )  # fmt: skip


async def get(conn: Conn, organization_id: UUID, call_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM calls WHERE organization_id = $1 AND id = $2",
        organization_id,
        call_id,
    )


async def get_by_id(conn: Conn, call_id: UUID) -> CallRow | None:
    """A call by the id the server issued (media streams, lifecycle); not for API reads."""
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM calls WHERE id = $1", call_id)
    return CallRow.of(row) if row is not None else None


async def list_for_org(
    conn: Conn,
    organization_id: UUID,
    *,
    limit: int,
    status: str | None = None,
    workflow_id: UUID | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    before: tuple[datetime, UUID] | None = None,
) -> list[asyncpg.Record]:
    """Newest first; ``before`` is the (created_at, id) cursor of the last row seen."""
    return await conn.fetch(
        f"""SELECT {_COLUMNS} FROM calls
             WHERE organization_id = $1
               AND ($2::text IS NULL OR status = $2)
               AND ($3::uuid IS NULL OR workflow_id = $3)
               AND ($4::timestamptz IS NULL OR created_at >= $4)
               AND ($5::timestamptz IS NULL OR created_at < $5)
               AND ($6::timestamptz IS NULL OR (created_at, id) < ($6, $7::uuid))
             ORDER BY created_at DESC, id DESC
             LIMIT $8""",
        organization_id, status, workflow_id, created_from, created_to,
        before[0] if before else None, before[1] if before else None, limit,
    )  # fmt: skip


async def mark_answered(conn: Conn, call_id: UUID, *, engine: str | None,
                        trace_id: str | None = None) -> None:
    await conn.execute(
        """UPDATE calls SET status = 'in-progress', answered_at = COALESCE(answered_at, now()),
                  engine = COALESCE($2, engine), trace_id = COALESCE($3, trace_id)
            WHERE id = $1 AND ended_at IS NULL""",
        call_id,
        engine,
        trace_id,
    )


async def update_status(conn: Conn, call_id: UUID, status: CallStatus) -> None:
    """A non-terminal progress update (ringing, in-progress); ignored once the call ended."""
    await conn.execute(
        """UPDATE calls SET status = $2,
                  answered_at = CASE WHEN $2 = 'in-progress'
                                     THEN COALESCE(answered_at, now()) ELSE answered_at END
            WHERE id = $1 AND ended_at IS NULL""",
        call_id,
        status,
    )


async def finalize(
    conn: Conn,
    call_id: UUID,
    *,
    status: CallStatus,
    end_reason: str,
    ended_at: datetime | None = None,
    duration_seconds: float | None = None,
    recording_path: str | None = None,
) -> EndedCall | None:
    """End the call once (a second finalize is a no-op); returns it when it ended now."""
    row = await conn.fetchrow(
        """UPDATE calls SET status = $2, end_reason = $3,
                   ended_at = COALESCE($4, now()),
                   duration_seconds = COALESCE($5, CASE WHEN answered_at IS NULL THEN 0
                        ELSE EXTRACT(EPOCH FROM (COALESCE($4, now()) - answered_at)) END),
                   recording_path = COALESCE($6, recording_path)
             WHERE id = $1 AND ended_at IS NULL
         RETURNING id, organization_id, status, duration_seconds""",
        call_id, status, end_reason, ended_at, duration_seconds, recording_path,
    )  # fmt: skip
    if row is None:
        return None
    return EndedCall(row["id"], row["organization_id"], CallStatus(row["status"]),
                     float(row["duration_seconds"] or 0.0))  # fmt: skip


async def insert_turns(conn: Conn, organization_id: UUID, call_id: UUID,
                       turns: Sequence[dict[str, Any]]) -> None:  # fmt: skip
    """Insert turns (dicts with the call_turns columns); a re-sent turn is ignored."""
    await conn.executemany(
        """INSERT INTO call_turns (call_id, organization_id, idx, speaker, text, started_at,
                  ended_at, interrupted, node, tool, stt_final_ms, agent_first_token_ms,
                  tts_first_audio_ms, first_audio_out_ms, user_bot_ms)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
           ON CONFLICT (call_id, idx) DO NOTHING""",
        [
            (
                call_id, organization_id, t["idx"], t["speaker"], t["text"], t["started_at"],
                t["ended_at"], t["interrupted"], t.get("node"), t.get("tool"),
                t.get("stt_final_ms"), t.get("agent_first_token_ms"),
                t.get("tts_first_audio_ms"), t.get("first_audio_out_ms"), t.get("user_bot_ms"),
            )  # fmt: skip
            for t in turns
        ],
    )


async def list_turns(conn: Conn, organization_id: UUID, call_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"""SELECT {_TURN_COLUMNS} FROM call_turns
             WHERE organization_id = $1 AND call_id = $2 ORDER BY idx""",
        organization_id,
        call_id,
    )


async def insert_events(conn: Conn, organization_id: UUID, call_id: UUID,
                        events: Sequence[tuple[str, datetime, dict[str, Any]]]) -> None:  # fmt: skip
    await conn.executemany(
        """INSERT INTO call_events (call_id, organization_id, kind, at, data)
           VALUES ($1, $2, $3, $4, $5)""",
        [(call_id, organization_id, kind, at, data) for kind, at, data in events],
    )


async def list_events(conn: Conn, organization_id: UUID, call_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT kind, at, data FROM call_events
            WHERE organization_id = $1 AND call_id = $2 ORDER BY id""",
        organization_id,
        call_id,
    )
