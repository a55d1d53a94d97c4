"""Source scans behind the architecture tests: string literals (docstrings left out) and
module sizes, over the packages' Python files."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
CARRIER_NAMES = frozenset({"twilio", "telnyx", "plivo", "vonage", "exotel"})
MAX_MODULE_LINES = 400

#: A string that reads as an SQL statement: the statement's keywords in their order, upper
#: case as db/ writes them (``SELECT 1``, ``INSERT INTO t``, ``UPDATE t SET``, ...).
SQL = re.compile(
    r"^\s*(?:WITH\s+\w+\s+AS\s*\(|SELECT\s+(?:\d|\*|\{\}|DISTINCT\b|EXISTS\b|[\w.]+\s*\(|[\s\S]*?\bFROM\b)"
    r"|INSERT\s+INTO\s|UPDATE\s+[\w.]+(?:\s+(?:AS\s+)?\w+)?\s+SET\s|DELETE\s+FROM\s|MERGE\s+INTO\s"
    r"|(?:CREATE|ALTER|DROP)\s+(?:TABLE|INDEX|UNIQUE\s+INDEX|VIEW|SEQUENCE|SCHEMA|TYPE|FUNCTION|TRIGGER)\s"
    r"|TRUNCATE\s|LISTEN\s|NOTIFY\s|LOCK\s+TABLE\s)",
)


def python_files(*packages: str) -> Iterator[Path]:
    for package in packages:
        yield from sorted((ROOT / package).rglob("*.py"))


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the Constant nodes that are docstrings (not literals the code uses)."""
    out: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                out.add(id(body[0].value))
    return out


def string_literals(source: str) -> Iterator[tuple[int, str]]:
    """(line, text) of every string literal in ``source`` but docstrings; an f-string counts
    as its literal parts joined (``f"SELECT {x} FROM t"`` reads ``SELECT {} FROM t``)."""
    tree = ast.parse(source)
    skip = _docstrings(tree)
    in_fstring: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            parts = []
            for value in node.values:
                in_fstring.add(id(value))
                parts.append(value.value if isinstance(value, ast.Constant) else "{}")
            yield node.lineno, "".join(str(p) for p in parts)
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in skip
            and id(node) not in in_fstring
        ):
            yield node.lineno, node.value


def sql_literals(source: str) -> list[tuple[int, str]]:
    return [(line, text) for line, text in string_literals(source) if SQL.match(text)]


def carrier_literals(source: str) -> list[tuple[int, str]]:
    return [(line, text) for line, text in string_literals(source) if text.lower() in CARRIER_NAMES]


def line_count(path: Path) -> int:
    return len(path.read_text().splitlines())


def where(path: Path, line: int, text: str) -> str:
    return f"{path.relative_to(ROOT)}:{line}: {text[:60]!r}"
