"""Speech provider credentials (API key encrypted at rest) and provider settings per org.

The API key is stored only as a ``SecretBox`` ciphertext; listings return the hint (last
characters) and never the key. ``load_decrypted`` is the one place keys are decrypted: for
building a call's speech services.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg

from db.crypto import SecretBox

Conn = asyncpg.Pool | asyncpg.Connection

_COLUMNS = "provider, key_hint, base_url, created_at, updated_at"


@dataclass(frozen=True, slots=True)
class DecryptedCredential:
    """A stored credential, decrypted for use by a call."""

    api_key: str
    base_url: str | None


def key_hint(api_key: str) -> str:
    """The last 4 characters of a key, or nothing for keys too short to hide the rest."""
    return api_key[-4:] if len(api_key) >= 12 else ""


async def upsert(
    conn: Conn,
    organization_id: UUID,
    provider: str,
    *,
    api_key: str,
    base_url: str | None,
    box: SecretBox,
) -> asyncpg.Record:
    """Store (or replace) the organization's key for ``provider``, encrypted."""
    return await conn.fetchrow(
        f"""INSERT INTO provider_credentials
                (organization_id, provider, api_key_ciphertext, key_hint, base_url)
            VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (organization_id, provider) DO UPDATE
               SET api_key_ciphertext = EXCLUDED.api_key_ciphertext,
                   key_hint = EXCLUDED.key_hint,
                   base_url = EXCLUDED.base_url,
                   updated_at = now()
            RETURNING {_COLUMNS}""",
        organization_id,
        provider,
        box.encrypt(api_key),
        key_hint(api_key),
        base_url,
    )


async def list_for_org(conn: Conn, organization_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"SELECT {_COLUMNS} FROM provider_credentials WHERE organization_id = $1"
        " ORDER BY provider",
        organization_id,
    )


async def get(conn: Conn, organization_id: UUID, provider: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM provider_credentials"
        " WHERE organization_id = $1 AND provider = $2",
        organization_id,
        provider,
    )


async def delete(conn: Conn, organization_id: UUID, provider: str) -> bool:
    deleted = await conn.fetchval(
        "DELETE FROM provider_credentials WHERE organization_id = $1 AND provider = $2"
        " RETURNING provider",
        organization_id,
        provider,
    )
    return deleted is not None


async def load_decrypted(
    conn: Conn, organization_id: UUID, box: SecretBox
) -> dict[str, DecryptedCredential]:
    """Every stored credential of the organization, decrypted, keyed by provider."""
    rows = await conn.fetch(
        "SELECT provider, api_key_ciphertext, base_url FROM provider_credentials"
        " WHERE organization_id = $1",
        organization_id,
    )
    return {
        r["provider"]: DecryptedCredential(box.decrypt(r["api_key_ciphertext"]), r["base_url"])
        for r in rows
    }


async def get_settings(conn: Conn, organization_id: UUID) -> dict[str, Any] | None:
    """The organization's stored provider settings (JSON), or None when never set."""
    raw = await conn.fetchval(
        "SELECT settings FROM organization_provider_settings WHERE organization_id = $1",
        organization_id,
    )
    return json.loads(raw) if isinstance(raw, str) else raw


async def put_settings(conn: Conn, organization_id: UUID, settings: dict[str, Any]) -> None:
    await conn.execute(
        """INSERT INTO organization_provider_settings (organization_id, settings)
           VALUES ($1, $2)
           ON CONFLICT (organization_id) DO UPDATE
              SET settings = EXCLUDED.settings, updated_at = now()""",
        organization_id,
        settings,  # the pool's jsonb codec encodes it
    )
