"""The pool releases connections without asyncpg's reset round trip (db/pool.py), and a
released connection still comes back clean: no transaction left open."""

from __future__ import annotations

import asyncpg

from db.pool import create_pool
from tests.conftest import own_database


async def test_release_sends_no_reset_query(database_url: str) -> None:
    async with own_database(database_url, "sb_pool", migrate=False) as url:
        pool = await create_pool(url, min_size=1, max_size=1)
        admin = await asyncpg.connect(url)
        try:
            pid = await pool.fetchval("SELECT pg_backend_pid() /* the query */")
            # the backend's last statement: the reset query, had the release sent one
            last = await admin.fetchval("SELECT query FROM pg_stat_activity WHERE pid = $1", pid)
            assert last == "SELECT pg_backend_pid() /* the query */"
        finally:
            await admin.close()
            await pool.close()


async def test_a_transaction_left_open_is_rolled_back_on_release(database_url: str) -> None:
    async with own_database(database_url, "sb_pool", migrate=False) as url:
        pool = await create_pool(url, min_size=1, max_size=1)
        try:
            await pool.execute("CREATE TABLE t (x int)")
            conn = await pool.acquire()
            await conn.transaction().start()  # never committed
            await conn.execute("INSERT INTO t VALUES (1)")
            await pool.release(conn)
            async with pool.acquire() as again:
                assert not again.is_in_transaction()
                assert await again.fetchval("SELECT count(*) FROM t") == 0
        finally:
            await pool.close()
