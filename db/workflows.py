"""Workflows (an editable draft each) and their immutable, numbered published versions.

Every function takes the organization id and filters on it in SQL: another organization's
workflow is simply not found.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

import asyncpg

Conn = asyncpg.Pool | asyncpg.Connection

_COLUMNS = (
    "id, organization_id, name, description, draft, latest_version, published_version, "
    "archived_at, created_at, updated_at"
)
_SUMMARY = (
    "id, organization_id, name, description, latest_version, published_version, "
    "archived_at, created_at, updated_at"
)
_VERSION = "workflow_id, version, note, published_by, published_by_api_key, created_at"


async def create(conn: Conn, organization_id: UUID, *, name: str, description: str,
                 draft: dict[str, Any]) -> asyncpg.Record:
    return await conn.fetchrow(
        f"""INSERT INTO workflows (organization_id, name, description, draft)
            VALUES ($1, $2, $3, $4) RETURNING {_COLUMNS}""",
        organization_id, name, description, draft,
    )


def _like(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def list_for_org(
    conn: Conn,
    organization_id: UUID,
    *,
    search: str | None = None,
    include_archived: bool = False,
    after: tuple[datetime, UUID] | None = None,
    limit: int = 50,
) -> list[asyncpg.Record]:
    """Newest first; ``after`` is the (created_at, id) of the last row of the previous page."""
    return await conn.fetch(
        f"""SELECT {_SUMMARY} FROM workflows
             WHERE organization_id = $1
               AND ($2::text IS NULL OR name ILIKE $2 OR description ILIKE $2)
               AND ($3 OR archived_at IS NULL)
               AND ($4::timestamptz IS NULL OR (created_at, id) < ($4, $5::uuid))
          ORDER BY created_at DESC, id DESC
             LIMIT $6""",
        organization_id,
        _like(search) if search else None,
        include_archived,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )


async def get(conn: Conn, organization_id: UUID, workflow_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM workflows WHERE organization_id = $1 AND id = $2",
        organization_id, workflow_id,
    )


async def update_draft(
    conn: Conn,
    organization_id: UUID,
    workflow_id: UUID,
    *,
    name: str | None = None,
    description: str | None = None,
    draft: dict[str, Any] | None = None,
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"""UPDATE workflows
               SET name = COALESCE($3, name),
                   description = COALESCE($4, description),
                   draft = COALESCE($5, draft),
                   updated_at = now()
             WHERE organization_id = $1 AND id = $2 AND archived_at IS NULL
         RETURNING {_COLUMNS}""",
        organization_id, workflow_id, name, description, draft,
    )


@dataclass(frozen=True, slots=True)
class Published:
    """What ``publish`` did: a new version, or nothing when the draft equals the published
    version (``unchanged``; ``version`` is then the current one)."""

    workflow: asyncpg.Record
    version: asyncpg.Record
    unchanged: bool


async def publish(
    pool: asyncpg.Pool,
    organization_id: UUID,
    workflow_id: UUID,
    *,
    definition: dict[str, Any],
    note: str,
    published_by: UUID | None,
    published_by_api_key: UUID | None = None,
) -> Published | None:
    """Store ``definition`` as the next version and make it the published one (unless it
    equals the published version already). None when the workflow is missing or archived."""
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            f"""SELECT {_COLUMNS} FROM workflows
                WHERE organization_id = $1 AND id = $2 AND archived_at IS NULL FOR UPDATE""",
            organization_id, workflow_id,
        )
        if row is None:
            return None
        if row["published_version"] is not None:
            current = await conn.fetchrow(
                f"""SELECT {_VERSION}, definition = $4::jsonb AS same FROM workflow_versions
                     WHERE organization_id = $1 AND workflow_id = $2 AND version = $3""",
                organization_id, workflow_id, row["published_version"], definition,
            )
            if current is not None and current["same"]:
                return Published(row, current, unchanged=True)
        number = row["latest_version"] + 1
        version = await conn.fetchrow(
            f"""INSERT INTO workflow_versions (workflow_id, organization_id, version,
                    definition, note, published_by, published_by_api_key)
                VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {_VERSION}""",
            workflow_id, organization_id, number, definition, note, published_by,
            published_by_api_key,
        )
        workflow = await conn.fetchrow(
            f"""UPDATE workflows SET latest_version = $3, published_version = $3,
                       updated_at = now()
                 WHERE organization_id = $1 AND id = $2 RETURNING {_COLUMNS}""",
            organization_id, workflow_id, number,
        )
        return Published(workflow, version, unchanged=False)


DeleteOutcome = Literal["deleted", "not_found", "published", "in_use"]


async def delete(pool: asyncpg.Pool, organization_id: UUID, workflow_id: UUID) -> DeleteOutcome:
    """Delete a workflow that is a draft (never published) or archived, with its versions.

    ``published``: it is live (archive it first); ``in_use``: a phone number (or any other
    row that must not lose it, e.g. a campaign) still points at it. Past calls keep their
    rows (their ``workflow_id`` becomes NULL)."""
    try:
        async with pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                """SELECT published_version, archived_at FROM workflows
                    WHERE organization_id = $1 AND id = $2 FOR UPDATE""",
                organization_id, workflow_id,
            )
            if row is None:
                return "not_found"
            if row["published_version"] is not None and row["archived_at"] is None:
                return "published"
            used = await conn.fetchval(
                """SELECT EXISTS (SELECT 1 FROM phone_numbers
                                   WHERE organization_id = $1 AND workflow_id = $2)""",
                organization_id, workflow_id,
            )
            if used:
                return "in_use"
            await conn.execute(
                "DELETE FROM workflows WHERE organization_id = $1 AND id = $2",
                organization_id, workflow_id,
            )
    except asyncpg.ForeignKeyViolationError:
        return "in_use"  # a referencing table whose foreign key restricts deletion
    return "deleted"


async def list_versions(conn: Conn, organization_id: UUID, workflow_id: UUID
                        ) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"""SELECT {_VERSION} FROM workflow_versions
             WHERE organization_id = $1 AND workflow_id = $2 ORDER BY version DESC""",
        organization_id, workflow_id,
    )


async def get_version(conn: Conn, organization_id: UUID, workflow_id: UUID, version: int
                      ) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"""SELECT {_VERSION}, definition FROM workflow_versions
             WHERE organization_id = $1 AND workflow_id = $2 AND version = $3""",
        organization_id, workflow_id, version,
    )


async def rollback(conn: Conn, organization_id: UUID, workflow_id: UUID, version: int
                   ) -> asyncpg.Record | None:
    """Publish an earlier version again; the draft becomes a copy of it."""
    return await conn.fetchrow(
        f"""UPDATE workflows w
               SET published_version = v.version, draft = v.definition, updated_at = now()
              FROM workflow_versions v
             WHERE w.organization_id = $1 AND w.id = $2 AND w.archived_at IS NULL
               AND v.organization_id = $1 AND v.workflow_id = w.id AND v.version = $3
         RETURNING {", ".join("w." + c.strip() for c in _COLUMNS.split(","))}""",
        organization_id, workflow_id, version,
    )


async def archive(conn: Conn, organization_id: UUID, workflow_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"""UPDATE workflows SET archived_at = COALESCE(archived_at, now()), updated_at = now()
             WHERE organization_id = $1 AND id = $2 RETURNING {_COLUMNS}""",
        organization_id, workflow_id,
    )


async def definition_for_call(
    conn: Conn, organization_id: UUID, workflow_id: UUID, *, draft: bool = False
) -> tuple[dict[str, Any], int | None] | None:
    """What a new call runs: the published version (pinned by number), or the draft for
    test calls. None when the workflow is missing, archived or (non-draft) unpublished."""
    if draft:
        row = await conn.fetchrow(
            """SELECT draft FROM workflows
                WHERE organization_id = $1 AND id = $2 AND archived_at IS NULL""",
            organization_id, workflow_id,
        )
        return (row["draft"], None) if row else None
    row = await conn.fetchrow(
        """SELECT v.definition, v.version FROM workflows w
             JOIN workflow_versions v ON v.workflow_id = w.id AND v.version = w.published_version
            WHERE w.organization_id = $1 AND w.id = $2 AND w.archived_at IS NULL""",
        organization_id, workflow_id,
    )
    return (row["definition"], row["version"]) if row else None
