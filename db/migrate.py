"""Migration runner: applies ``migrations/NNNN_*.sql`` in order, each once, in a transaction.

A session-level advisory lock serializes concurrent runners (two instances starting at
once): the second waits, then finds everything applied and does nothing.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg

log = logging.getLogger(__name__)

LOCK_KEY = 0x5357_4254_4D49_4752  # "SWBTMIGR"
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


def default_migrations_dir() -> Path:
    source_tree = Path(__file__).resolve().parent.parent / "migrations"
    if source_tree.is_dir():
        return source_tree
    return Path(__file__).resolve().parent / "migrations_sql"  # installed wheel


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def discover(directory: Path) -> list[Migration]:
    found: list[Migration] = []
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise ValueError(f"migration file name {path.name!r} is not NNNN_name.sql")
        found.append(Migration(int(match.group(1)), path.name, path.read_text()))
    versions = [m.version for m in found]
    if len(versions) != len(set(versions)):
        raise ValueError(f"duplicate migration numbers in {directory}")
    return found


async def migrate(conn: asyncpg.Connection, directory: Path | None = None) -> list[str]:
    """Apply pending migrations; returns the names applied by this call."""
    migrations = discover(directory or default_migrations_dir())
    applied_now: list[str] = []
    await conn.execute("SELECT pg_advisory_lock($1)", LOCK_KEY)
    try:
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   version integer PRIMARY KEY,
                   name text NOT NULL,
                   checksum text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        rows = await conn.fetch("SELECT version, name, checksum FROM schema_migrations")
        done = {r["version"]: r for r in rows}
        for m in migrations:
            if m.version in done:
                if done[m.version]["checksum"] != m.checksum:
                    log.warning("migration %s changed after it was applied", m.name)
                continue
            async with conn.transaction():
                await conn.execute(m.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    m.version,
                    m.name,
                    m.checksum,
                )
            log.info("applied migration %s", m.name)
            applied_now.append(m.name)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", LOCK_KEY)
    return applied_now


async def migrate_url(url: str, directory: Path | None = None) -> list[str]:
    conn = await asyncpg.connect(url)
    try:
        return await migrate(conn, directory)
    finally:
        await conn.close()
