"""Pooled connections carry no session state, so ``db.pool.PoolConnection`` can release them
without asyncpg's reset query (``RESET ALL; UNLISTEN *; CLOSE ALL; advisory unlock``).

What would outlive a release: a session-level advisory lock, a ``SET`` that is not
``SET LOCAL``, a cursor ``WITH HOLD``, a temporary table, a prepared ``PREPARE``, a
``LISTEN`` not undone. The one exception is the migration runner (``db/migrate.py``), whose
lock is taken on a connection of its own (``migrate_url``) and released there.
"""

from __future__ import annotations

import re

from tests.unit.architecture.scan import ROOT, python_files, string_literals, where

PACKAGES = ("db", "server", "pipeline", "runtime", "telephony")
OWN_CONNECTION = {ROOT / "db" / "migrate.py"}

SESSION_STATE = re.compile(
    r"pg_(?:try_)?advisory_lock(?:_shared)?\s*\("  # the _xact_ ones end with the transaction
    # upper case, as db/ writes SQL (prose is not SQL); statements at the start of the text
    # or after a ";" (not UPDATE's SET clause)
    r"|(?:\A|;)\s*(?:SET\s+(?!LOCAL\b)|PREPARE\s|LISTEN\s)|\bSET\s+SESSION\b"
    r"|set_config\s*\([^)]*\b(?i:false)\s*\)|\bWITH\s+HOLD\b|\bCREATE\s+(?:TEMP|TEMPORARY)\b",
)


def session_state_literals(source: str) -> list[tuple[int, str]]:
    return [(line, text) for line, text in string_literals(source) if SESSION_STATE.search(text)]


def test_no_session_state_on_pooled_connections() -> None:
    found = [
        where(path, line, text)
        for path in python_files(*PACKAGES)
        if path not in OWN_CONNECTION
        for line, text in session_state_literals(path.read_text())
    ]
    assert not found, (
        "pooled connections are released without a reset (db/pool.py): session state "
        "would leak to the next user of the connection:\n" + "\n".join(found)
    )


def test_every_listener_is_removed_where_it_is_added() -> None:
    """asyncpg's ``add_listener`` sends ``LISTEN``; without the reset query only
    ``remove_listener`` sends the ``UNLISTEN``."""
    unpaired = [
        str(path.relative_to(ROOT))
        for path in python_files(*PACKAGES)
        if ".add_listener(" in (text := path.read_text()) and ".remove_listener(" not in text
    ]
    assert not unpaired, f"add_listener without remove_listener: {unpaired}"


def test_the_migration_lock_is_on_a_connection_of_its_own() -> None:
    source = (ROOT / "db" / "migrate.py").read_text()
    assert "asyncpg.connect(" in source and "create_pool" not in source


def test_the_scan_finds_session_state_and_only_session_state() -> None:
    source = '''
A = "SELECT pg_advisory_lock($1)"
B = "SELECT pg_try_advisory_xact_lock($1)"
C = "SET statement_timeout = 0"
D = "SET LOCAL statement_timeout = 0"
E = "UPDATE calls SET ended_at = now()"
F = "DECLARE c CURSOR WITH HOLD FOR SELECT 1"
G = "CREATE TEMP TABLE t (x int)"
H = "LISTEN jobs"
I = "SELECT set_config('x.y', '1', false)"
K = """UPDATE t
       SET x = 1"""
L = "BEGIN; SET search_path = a"
M = "set an organization's plan"
J = "SELECT set_config('x.y', '1', true)"
'''
    assert {line for line, _ in session_state_literals(source)} == {2, 4, 7, 8, 9, 10, 13}
