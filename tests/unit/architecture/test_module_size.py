"""No module over 400 lines: a module that grows past it holds more than one thing, and is
split by what it holds."""

from __future__ import annotations

from pathlib import Path

from tests.unit.architecture.scan import MAX_MODULE_LINES, ROOT, line_count, python_files

PACKAGES = ("server", "pipeline", "runtime", "telephony", "db", "loadgen", "bench", "tests")


def oversized(paths: list[Path], root: Path = ROOT) -> list[str]:
    sizes = ((path, line_count(path)) for path in paths)
    return [f"{path.relative_to(root)}: {n} lines" for path, n in sizes if n > MAX_MODULE_LINES]


def test_no_module_over_400_lines() -> None:
    found = oversized(list(python_files(*PACKAGES)))
    assert not found, f"split these by what they hold (limit {MAX_MODULE_LINES} lines):\n" + "\n".join(found)


def test_the_size_check_counts_lines(tmp_path: Path) -> None:
    ok, big = tmp_path / "ok.py", tmp_path / "big.py"
    ok.write_text("x = 1\n" * MAX_MODULE_LINES)
    big.write_text("x = 1\n" * (MAX_MODULE_LINES + 1))
    assert oversized([ok, big], tmp_path) == [f"big.py: {MAX_MODULE_LINES + 1} lines"]
