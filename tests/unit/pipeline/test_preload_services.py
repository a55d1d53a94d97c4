"""Start-up imports every speech-service module the provider factory imports lazily, so the
first call does not import (and compile) them on the event loop."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

from pipeline.providers import factory


def _lazy_imports() -> set[str]:
    """``from X import ...`` statements inside the factory's functions."""
    tree = ast.parse(Path(factory.__file__).read_text())
    found: set[str] = set()
    for fn in ast.walk(tree):
        if isinstance(fn, ast.FunctionDef) and fn.name != "preload_services":
            for node in ast.walk(fn):
                if isinstance(node, ast.ImportFrom) and node.module:
                    found.add(node.module)
    return found


def test_every_lazily_imported_service_module_is_preloaded() -> None:
    assert _lazy_imports() <= set(factory.LAZY_SERVICE_MODULES)


def test_preload_imports_them() -> None:
    factory.preload_services()
    assert all(name in sys.modules for name in factory.LAZY_SERVICE_MODULES)
