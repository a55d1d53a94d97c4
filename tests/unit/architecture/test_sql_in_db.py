"""SQL lives in db/ only: no string literal outside db/ reads as an SQL statement.

Scanned: every package the server runs, plus loadgen/ and bench/ (tests/ may speak SQL to
check what db/ wrote; migrations/ are .sql files).
"""

from __future__ import annotations

from tests.unit.architecture.scan import python_files, sql_literals, where

PACKAGES = ("server", "pipeline", "runtime", "telephony", "loadgen", "bench")


def test_no_sql_outside_db() -> None:
    found = [
        where(path, line, text)
        for path in python_files(*PACKAGES)
        for line, text in sql_literals(path.read_text())
    ]
    assert not found, "SQL belongs in db/ (a function there, called from here):\n" + "\n".join(found)


def test_the_scan_finds_sql_and_only_sql() -> None:
    source = '''
"""Module docstring: SELECT name FROM users is prose here."""
HEALTH = "SELECT 1"
QUERY = f"SELECT id, name FROM calls WHERE org = {org}"
WRITE = """
    INSERT INTO calls (id) VALUES ($1)
"""
CHANGE = "UPDATE calls SET status = $1"
GONE = "DELETE FROM calls WHERE id = $1"
DDL = "CREATE TABLE x (id int)"
CTE = "WITH recent AS (SELECT 1) SELECT * FROM recent"
LOCK = "LOCK TABLE jobs IN EXCLUSIVE MODE"
PROSE = "Select the workflow from the list, then update the settings."
LABEL = "SELECT"
ERROR = "could not delete from the queue"
'''
    lines = {line for line, _ in sql_literals(source)}
    assert lines == {3, 4, 5, 8, 9, 10, 11, 12}
