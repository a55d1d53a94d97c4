"""Carrier accounts (credentials stored encrypted) and media-stream tokens. All SQL for
telephony state that is not a phone number lives here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from db.calls import CallStatus

Conn = asyncpg.Pool | asyncpg.Connection

_COLUMNS = "id, organization_id, carrier, name, account_hint, created_at, updated_at"


async def create(
    conn: Conn,
    organization_id: UUID,
    *,
    carrier: str,
    name: str,
    credentials: bytes,
    account_hint: str | None,
) -> asyncpg.Record:
    return await conn.fetchrow(
        f"""INSERT INTO carrier_accounts
                (organization_id, carrier, name, credentials, account_hint)
            VALUES ($1, $2, $3, $4, $5) RETURNING {_COLUMNS}""",
        organization_id,
        carrier,
        name,
        credentials,
        account_hint,
    )


async def list_for_org(conn: Conn, organization_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"SELECT {_COLUMNS} FROM carrier_accounts WHERE organization_id = $1 ORDER BY created_at",
        organization_id,
    )


async def get(conn: Conn, organization_id: UUID, account_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM carrier_accounts WHERE organization_id = $1 AND id = $2",
        organization_id,
        account_id,
    )


async def get_with_credentials(conn: Conn, organization_id: UUID, account_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {_COLUMNS}, credentials FROM carrier_accounts WHERE organization_id = $1 AND id = $2",
        organization_id,
        account_id,
    )


async def update(
    conn: Conn,
    organization_id: UUID,
    account_id: UUID,
    *,
    name: str | None,
    credentials: bytes | None,
    account_hint: str | None,
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"""UPDATE carrier_accounts
               SET name = COALESCE($3, name),
                   credentials = COALESCE($4, credentials),
                   account_hint = COALESCE($5, account_hint),
                   updated_at = now()
             WHERE organization_id = $1 AND id = $2
         RETURNING {_COLUMNS}""",
        organization_id,
        account_id,
        name,
        credentials,
        account_hint,
    )


async def delete(conn: Conn, organization_id: UUID, account_id: UUID) -> bool:
    """Delete an account; ``asyncpg.ForeignKeyViolationError`` while numbers use it."""
    result = await conn.execute(
        "DELETE FROM carrier_accounts WHERE organization_id = $1 AND id = $2",
        organization_id,
        account_id,
    )
    return result == "DELETE 1"


# --- calls on a carrier ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CarrierCall:
    """A call with the carrier account it runs on: what webhooks, media streams and call
    control need. ``credentials`` is the account's encrypted credentials (None when the
    account is gone)."""

    id: UUID
    organization_id: UUID
    workflow_id: UUID | None
    workflow_version: int | None
    status: CallStatus
    direction: str
    carrier: str | None
    carrier_call_id: str | None
    carrier_account_id: UUID | None
    metadata: dict[str, Any]
    credentials: bytes | None
    answered_at: datetime | None
    ended_at: datetime | None
    stream_connected_at: datetime | None

    @property
    def ended(self) -> bool:
        return self.ended_at is not None or self.status.terminal

    @classmethod
    def of(cls, row: asyncpg.Record) -> CarrierCall:
        return cls(
            id=row["id"], organization_id=row["organization_id"], workflow_id=row["workflow_id"],
            workflow_version=row["workflow_version"], status=CallStatus(row["status"]),
            direction=row["direction"], carrier=row["carrier"],
            carrier_call_id=row["carrier_call_id"], carrier_account_id=row["carrier_account_id"],
            metadata=dict(row["metadata"] or {}), credentials=row["credentials"],
            answered_at=row["answered_at"], ended_at=row["ended_at"],
            stream_connected_at=row["stream_connected_at"],
        )  # fmt: skip


_CALL_SELECT = """SELECT c.id, c.organization_id, c.workflow_id, c.workflow_version, c.status,
                         c.direction, c.carrier, c.carrier_call_id, c.carrier_account_id,
                         c.metadata, a.credentials, c.answered_at, c.ended_at,
                         c.stream_connected_at
                    FROM calls c
                    LEFT JOIN carrier_accounts a
                      ON a.id = c.carrier_account_id AND a.organization_id = c.organization_id"""


async def call_carrier(conn: Conn, call_id: UUID) -> CarrierCall | None:
    """The call and the carrier account it runs on (for status callbacks and media streams,
    which learn the call id from our own callback URL or the stream token)."""
    row = await conn.fetchrow(f"{_CALL_SELECT} WHERE c.id = $1", call_id)
    return CarrierCall.of(row) if row is not None else None


async def call_for_org(conn: Conn, organization_id: UUID, call_id: UUID) -> CarrierCall | None:
    row = await conn.fetchrow(
        f"{_CALL_SELECT} WHERE c.organization_id = $1 AND c.id = $2", organization_id, call_id
    )
    return CarrierCall.of(row) if row is not None else None


async def attach_carrier(
    conn: Conn,
    organization_id: UUID,
    call_id: UUID,
    *,
    carrier: str,
    carrier_account_id: UUID,
    carrier_call_id: str | None,
) -> None:
    await conn.execute(
        """UPDATE calls SET carrier = $3, carrier_account_id = $4,
                  carrier_call_id = COALESCE($5, carrier_call_id)
            WHERE organization_id = $1 AND id = $2""",
        organization_id,
        call_id,
        carrier,
        carrier_account_id,
        carrier_call_id,
    )


async def find_call_by_carrier_id(conn: Conn, carrier: str, carrier_call_id: str) -> CarrierCall | None:
    row = await conn.fetchrow(
        f"""{_CALL_SELECT}
            WHERE c.carrier = $1 AND c.carrier_call_id = $2 AND a.id IS NOT NULL
            ORDER BY c.created_at DESC LIMIT 1""",
        carrier,
        carrier_call_id,
    )
    return CarrierCall.of(row) if row is not None else None


async def call_connected(conn: Conn, call_id: UUID) -> bool:
    """True once the call's media stream connected or the call has ended."""
    return bool(
        await conn.fetchval(
            "SELECT stream_connected_at IS NOT NULL OR ended_at IS NOT NULL FROM calls WHERE id = $1",
            call_id,
        )
    )


async def claim_stream(conn: Conn, call_id: UUID) -> bool:
    """Record that the call's media stream connected; False when a stream already did (or
    the call ended): one media stream per call."""
    return (
        await conn.fetchval(
            """UPDATE calls SET stream_connected_at = now()
                WHERE id = $1 AND stream_connected_at IS NULL AND ended_at IS NULL
            RETURNING id""",
            call_id,
        )
        is not None
    )


# --- stream tokens --------------------------------------------------------------------------


async def add_stream_token(
    conn: Conn, organization_id: UUID, call_id: UUID, token_hash: bytes, expires_at: datetime
) -> None:
    """Add a token for the call; earlier tokens of the call stop working."""
    await conn.execute(
        """WITH gone AS (DELETE FROM call_stream_tokens WHERE call_id = $2)
           INSERT INTO call_stream_tokens (token_hash, call_id, organization_id, expires_at)
           VALUES ($1, $2, $3, $4)""",
        token_hash,
        call_id,
        organization_id,
        expires_at,
    )


@dataclass(frozen=True, slots=True)
class StreamAdmission:
    call_id: UUID
    organization_id: UUID


async def consume_stream_token(conn: Conn, token_hash: bytes) -> StreamAdmission | None:
    """Atomically use a token: it is deleted whether or not it had expired; returns the call
    it admits only when it was still valid."""
    row = await conn.fetchrow(
        """WITH used AS (
               DELETE FROM call_stream_tokens WHERE token_hash = $1
               RETURNING call_id, organization_id, expires_at)
           SELECT call_id, organization_id FROM used WHERE expires_at > now()""",
        token_hash,
    )
    return StreamAdmission(row["call_id"], row["organization_id"]) if row is not None else None


async def purge_expired_stream_tokens(conn: Conn) -> int:
    """Delete expired stream tokens (a periodic job); returns how many."""
    result = await conn.execute("DELETE FROM call_stream_tokens WHERE expires_at < now()")
    return int(result.split()[-1])
