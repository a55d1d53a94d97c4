"""asyncpg pool creation (JSON codecs registered on every connection)."""

from __future__ import annotations

import json

import asyncpg


class PoolConnection(asyncpg.Connection):
    """A pooled connection released without asyncpg's reset query.

    On every release asyncpg sends ``SELECT pg_advisory_unlock_all(); CLOSE ALL;
    UNLISTEN *; RESET ALL;``: one more round trip, and PostgreSQL work, for every query made
    through the pool (``pool.fetch(...)`` acquires and releases), live calls' record writes
    included. Our code leaves none of that state on a pooled connection: no session-level
    advisory locks (the migration runner's is on its own connection; ``db/fleet.py`` takes a
    transaction-level one), no cursors outside transactions, no ``SET`` (only ``SET LOCAL``
    would be allowed), and the job worker removes its listener (``UNLISTEN``) before it
    releases its connection. ``tests/unit/architecture/test_pool_session_state.py`` keeps it
    that way. asyncpg still rolls back a transaction left open and drops listener callbacks
    on release (``Connection._reset``), whatever this returns.
    """

    def get_reset_query(self) -> str:
        return ""


async def _init_connection(conn: asyncpg.Connection) -> None:
    for typename in ("json", "jsonb"):
        await conn.set_type_codec(
            typename, encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )


async def create_pool(url: str, *, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        url,
        min_size=min_size,
        max_size=max_size,
        init=_init_connection,
        command_timeout=30,
        connection_class=PoolConnection,
    )
    assert pool is not None
    return pool
