"""Secrets for workflow HTTP tools (``{{secret.NAME}}`` in headers), encrypted at rest."""

from __future__ import annotations

from typing import TYPE_CHECKING
from uuid import UUID

import asyncpg

if TYPE_CHECKING:
    from db.crypto import SecretBox

Conn = asyncpg.Pool | asyncpg.Connection
_COLUMNS = "name, hint, created_at, updated_at"


async def upsert(conn: Conn, organization_id: UUID, name: str, *, value_ciphertext: bytes,
                 hint: str) -> asyncpg.Record:
    return await conn.fetchrow(
        f"""INSERT INTO tool_secrets (organization_id, name, value_ciphertext, hint)
            VALUES ($1, $2, $3, $4)
            ON CONFLICT (organization_id, name) DO UPDATE
               SET value_ciphertext = EXCLUDED.value_ciphertext, hint = EXCLUDED.hint,
                   updated_at = now()
            RETURNING {_COLUMNS}""",
        organization_id, name, value_ciphertext, hint,
    )


async def list_for_org(conn: Conn, organization_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"SELECT {_COLUMNS} FROM tool_secrets WHERE organization_id = $1 ORDER BY name",
        organization_id,
    )


async def delete(conn: Conn, organization_id: UUID, name: str) -> bool:
    row = await conn.fetchrow(
        "DELETE FROM tool_secrets WHERE organization_id = $1 AND name = $2 RETURNING name",
        organization_id, name,
    )
    return row is not None


async def load_decrypted(conn: Conn, organization_id: UUID, box: SecretBox) -> dict[str, str]:
    rows = await conn.fetch(
        "SELECT name, value_ciphertext FROM tool_secrets WHERE organization_id = $1",
        organization_id,
    )
    return {r["name"]: box.decrypt(r["value_ciphertext"]) for r in rows}
