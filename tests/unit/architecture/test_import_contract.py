"""The import contract (``[tool.importlinter]`` in pyproject.toml) holds, and breaks on a
wrong import.

The contracts are import-linter's: the layers ``server -> (pipeline -> runtime, telephony)
-> db``, what pipeline, runtime and telephony never import, carriers independent of each
other, and ``loadgen`` (a client) imported by no package the server runs. import-linter
reads every import statement, including those inside functions.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
CARRIERS = ("twilio", "telnyx", "plivo", "vonage", "exotel")


def contract_names() -> dict[str, str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    return {c["id"]: c["name"] for c in config["contracts"]}


def lint_imports(cwd: Path, config: Path) -> tuple[int, str]:
    """Run import-linter on the packages importable from ``cwd`` (a fresh interpreter, so
    the packages are found there and nowhere else)."""
    env = {**os.environ, "PYTHONPATH": str(cwd), "COLUMNS": "1000", "NO_COLOR": "1"}
    proc = subprocess.run(
        [str(LINT_IMPORTS), "--config", str(config), "--no-cache", "--no-logo"],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    return proc.returncode, proc.stdout + proc.stderr


def broken(report: str) -> set[str]:
    """The ids of the contracts a report says are broken."""
    return {cid for cid, name in contract_names().items() if f"{name} BROKEN" in report}


def test_the_code_keeps_the_import_contract() -> None:
    code, report = lint_imports(ROOT, ROOT / "pyproject.toml")
    assert code == 0 and "BROKEN" not in report, report
    # every contract in pyproject.toml was checked
    assert f"Contracts: {len(contract_names())} kept, 0 broken." in report, report


# -- the checker fails on a wrong import: a small tree with the real package names --------

#: (importer, imported) edges that follow the architecture.
ALLOWED = [
    ("server", "pipeline"), ("server", "runtime"), ("server", "telephony"), ("server", "db"),
    ("pipeline", "runtime"), ("loadgen", "pipeline"),
]  # fmt: skip


def write_tree(base: Path, edges: list[tuple[str, str]]) -> None:
    """Packages named like the real ones, each importing what ``edges`` say."""
    modules = ["server", "pipeline", "runtime", "telephony", "db", "loadgen"]
    modules += [f"telephony.{c}" for c in CARRIERS]
    for module in modules:
        folder = base.joinpath(*module.split("."))
        folder.mkdir(parents=True, exist_ok=True)
        imports = [f"import {imported}\n" for importer, imported in edges if importer == module]
        (folder / "__init__.py").write_text("".join(imports))


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_a_tree_that_follows_the_architecture_keeps_every_contract(tree: Path) -> None:
    write_tree(tree, ALLOWED)
    code, report = lint_imports(tree, tree / "pyproject.toml")
    assert code == 0 and broken(report) == set(), report


@pytest.mark.parametrize(
    ("importer", "imported", "contracts"),
    [
        # loadgen imports pipeline (espeak), so what pipeline reaches, loadgen reaches too:
        # forbidden contracts count indirect imports
        ("pipeline", "server", {"layers", "pipeline", "loadgen-client"}),
        ("pipeline", "db", {"pipeline", "loadgen-client"}),
        ("runtime", "pipeline", {"layers", "runtime"}),
        ("runtime", "db", {"runtime", "pipeline", "loadgen-client"}),
        ("db", "server", {"layers"}),
        ("telephony", "server", {"layers", "telephony"}),
        ("telephony.vonage", "runtime", {"telephony"}),
        ("telephony.twilio", "telephony.telnyx", {"carriers"}),
        ("server", "loadgen", {"loadgen-unused"}),
        ("pipeline", "loadgen", {"loadgen-unused"}),
        ("loadgen", "server", {"loadgen-client"}),
    ],
)
def test_a_wrong_import_breaks_its_contract(
    tree: Path, importer: str, imported: str, contracts: set[str]
) -> None:
    write_tree(tree, [*ALLOWED, (importer, imported)])
    code, report = lint_imports(tree, tree / "pyproject.toml")
    assert code != 0, report
    assert broken(report) == contracts, report
    assert f"{importer} -> {imported}" in report  # the report names the wrong import
