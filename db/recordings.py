"""Call recordings: where each is stored, and its deletion (API or retention)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from uuid import UUID

import asyncpg

Conn = asyncpg.Pool | asyncpg.Connection

DeleteReason = Literal["api", "retention"]


@dataclass(frozen=True, slots=True)
class RecordingRow:
    call_id: UUID
    organization_id: UUID
    ended_at: datetime | None
    recording_path: str | None  # the file the call was recorded to (on its instance)
    recording_url: str | None  # where it is stored; None while its upload is pending
    recording_bytes: int | None
    deleted_at: datetime | None


_COLUMNS = ("id, organization_id, ended_at, recording_path, recording_url, recording_bytes, "
            "recording_deleted_at")  # fmt: skip


def _row(r: asyncpg.Record) -> RecordingRow:
    return RecordingRow(r["id"], r["organization_id"], r["ended_at"], r["recording_path"],
                        r["recording_url"], r["recording_bytes"], r["recording_deleted_at"])  # fmt: skip


async def get(conn: Conn, organization_id: UUID, call_id: UUID) -> RecordingRow | None:
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM calls WHERE organization_id = $1 AND id = $2",
        organization_id, call_id,
    )  # fmt: skip
    return _row(row) if row is not None else None


async def mark_stored(conn: Conn, organization_id: UUID, call_id: UUID, *, url: str,
                      size: int, local_path: str) -> bool:  # fmt: skip
    """Record where the call's recording is stored; False when the call is gone or its
    recording was deleted meanwhile (the caller then deletes what it stored)."""
    row = await conn.fetchrow(
        """UPDATE calls SET recording_url = $3, recording_bytes = $4,
                  recording_path = COALESCE(recording_path, $5)
            WHERE organization_id = $1 AND id = $2 AND recording_deleted_at IS NULL
        RETURNING id""",
        organization_id, call_id, url, size, local_path,
    )  # fmt: skip
    return row is not None


async def mark_deleted(conn: Conn, organization_id: UUID, call_id: UUID, *,
                       reason: DeleteReason, url: str | None) -> bool:  # fmt: skip
    """The call no longer has a recording (``url``: the location that was deleted, so a
    concurrent upload or sweep of another location is not marked by mistake)."""
    row = await conn.fetchrow(
        """UPDATE calls SET recording_path = NULL, recording_url = NULL,
                  recording_deleted_at = now(), recording_deleted_reason = $3
            WHERE organization_id = $1 AND id = $2 AND recording_deleted_at IS NULL
              AND recording_url IS NOT DISTINCT FROM $4
        RETURNING id""",
        organization_id, call_id, reason, url,
    )  # fmt: skip
    return row is not None


@dataclass(frozen=True, slots=True)
class ExpiredRecording:
    call_id: UUID
    organization_id: UUID
    url: str


async def expired(conn: Conn, *, ended_before: datetime, limit: int) -> list[ExpiredRecording]:
    """Stored recordings of calls that ended before ``ended_before``, in every organization
    (the retention sweep, a system job), oldest first."""
    rows = await conn.fetch(
        """SELECT id, organization_id, recording_url FROM calls
            WHERE recording_url IS NOT NULL AND ended_at < $1
            ORDER BY ended_at LIMIT $2""",
        ended_before, limit,
    )  # fmt: skip
    return [ExpiredRecording(r["id"], r["organization_id"], r["recording_url"]) for r in rows]
