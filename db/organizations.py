"""Organizations, memberships and invitations. Every query is scoped by organization."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg

Conn = asyncpg.Pool | asyncpg.Connection

_ORG_COLUMNS = "id, name, plan, max_concurrent_calls, created_at, updated_at"


async def create(
    conn: Conn, name: str, *, plan: str = "free", max_concurrent_calls: int = 10
) -> asyncpg.Record:
    return await conn.fetchrow(
        f"""INSERT INTO organizations (name, plan, max_concurrent_calls) VALUES ($1, $2, $3)
            RETURNING {_ORG_COLUMNS}""",
        name,
        plan,
        max_concurrent_calls,
    )


async def get(conn: Conn, organization_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {_ORG_COLUMNS} FROM organizations WHERE id = $1", organization_id
    )


async def update(
    conn: Conn, organization_id: UUID, *, name: str | None, max_concurrent_calls: int | None
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"""UPDATE organizations
               SET name = COALESCE($2, name),
                   max_concurrent_calls = COALESCE($3, max_concurrent_calls),
                   updated_at = now()
             WHERE id = $1
         RETURNING {_ORG_COLUMNS}""",
        organization_id,
        name,
        max_concurrent_calls,
    )


# --- memberships ----------------------------------------------------------------------------


async def add_member(conn: Conn, organization_id: UUID, user_id: UUID, role: str) -> None:
    await conn.execute(
        """INSERT INTO memberships (organization_id, user_id, role) VALUES ($1, $2, $3)
           ON CONFLICT (organization_id, user_id) DO NOTHING""",
        organization_id,
        user_id,
        role,
    )


async def role_of(conn: Conn, organization_id: UUID, user_id: UUID) -> str | None:
    return await conn.fetchval(
        "SELECT role FROM memberships WHERE organization_id = $1 AND user_id = $2",
        organization_id,
        user_id,
    )


async def first_membership(conn: Conn, user_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """SELECT organization_id, role FROM memberships WHERE user_id = $1
           ORDER BY created_at, organization_id LIMIT 1""",
        user_id,
    )


async def memberships_of_user(conn: Conn, user_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT m.organization_id, m.role, o.name
             FROM memberships m JOIN organizations o ON o.id = m.organization_id
            WHERE m.user_id = $1 ORDER BY m.created_at""",
        user_id,
    )


async def list_members(conn: Conn, organization_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT u.id AS user_id, u.email, u.name, m.role, m.created_at
             FROM memberships m JOIN users u ON u.id = m.user_id
            WHERE m.organization_id = $1 ORDER BY m.created_at, u.email""",
        organization_id,
    )


async def set_role(conn: Conn, organization_id: UUID, user_id: UUID, role: str) -> bool:
    result = await conn.execute(
        "UPDATE memberships SET role = $3 WHERE organization_id = $1 AND user_id = $2",
        organization_id,
        user_id,
        role,
    )
    return result.endswith(" 1")


async def remove_member(conn: Conn, organization_id: UUID, user_id: UUID) -> bool:
    result = await conn.execute(
        "DELETE FROM memberships WHERE organization_id = $1 AND user_id = $2",
        organization_id,
        user_id,
    )
    return result.endswith(" 1")


async def count_owners(conn: Conn, organization_id: UUID) -> int:
    return await conn.fetchval(
        "SELECT count(*) FROM memberships WHERE organization_id = $1 AND role = 'owner'",
        organization_id,
    )


# --- invitations ----------------------------------------------------------------------------


async def create_invitation(
    conn: Conn,
    organization_id: UUID,
    *,
    email: str,
    role: str,
    token_hash: bytes,
    invited_by: UUID | None,
    expires_at: datetime,
) -> asyncpg.Record:
    return await conn.fetchrow(
        """INSERT INTO invitations (organization_id, email, role, token_hash, invited_by, expires_at)
           VALUES ($1, $2, $3, $4, $5, $6)
           RETURNING id, organization_id, email, role, expires_at, created_at""",
        organization_id,
        email,
        role,
        token_hash,
        invited_by,
        expires_at,
    )


async def list_invitations(conn: Conn, organization_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT id, organization_id, email, role, expires_at, created_at FROM invitations
            WHERE organization_id = $1 AND accepted_at IS NULL AND expires_at > now()
            ORDER BY created_at""",
        organization_id,
    )


async def pending_invitation(
    conn: Conn, organization_id: UUID, email: str
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """SELECT id FROM invitations
            WHERE organization_id = $1 AND lower(email) = lower($2)
              AND accepted_at IS NULL AND expires_at > now() LIMIT 1""",
        organization_id,
        email,
    )


async def accept_invitation(conn: Conn, token_hash: bytes, email: str) -> asyncpg.Record | None:
    """Consume a pending invitation for ``email`` (single use)."""
    return await conn.fetchrow(
        """UPDATE invitations SET accepted_at = now()
            WHERE token_hash = $1 AND accepted_at IS NULL AND expires_at > now()
              AND lower(email) = lower($2)
        RETURNING organization_id, role""",
        token_hash,
        email,
    )


async def set_plan(
    conn: Conn, organization_id: UUID, plan: str, *, max_concurrent_calls: int | None = None
) -> asyncpg.Record | None:
    """Operators' (and later billing's) switch; not exposed to organization members.
    ``server.billing.plans.change_plan`` also resets the limit to the plan's ceiling."""
    return await conn.fetchrow(
        f"""UPDATE organizations
               SET plan = $2, max_concurrent_calls = COALESCE($3, max_concurrent_calls),
                   updated_at = now()
             WHERE id = $1 RETURNING {_ORG_COLUMNS}""",
        organization_id,
        plan,
        max_concurrent_calls,
    )


async def lock(conn: asyncpg.Connection, organization_id: UUID) -> bool:
    """Lock the organization row for this transaction: membership changes that must keep an
    owner run one at a time per organization (two concurrent demotions cannot both see two
    owners)."""
    found = await conn.fetchval(
        "SELECT true FROM organizations WHERE id = $1 FOR UPDATE", organization_id
    )
    return bool(found)
