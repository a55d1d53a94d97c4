"""The console's vendored modules match what scripts/vendor_console.py recorded (version,
sha256, license), every import resolves to a vendored or console file, and nothing in the
console loads from another origin."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
CONSOLE = ROOT / "server" / "console"
VENDOR = CONSOLE / "vendor"
TEST_VENDOR = ROOT / "tests" / "browser" / "vendor"  # test-only tools (axe-core): not served
LICENSE_TEXT = {"MIT": "Permission is hereby granted", "Apache-2.0": "Apache License",
                "MPL-2.0": "Mozilla Public License, version 2.0"}  # fmt: skip


def _import_map() -> dict[str, str]:
    html = (CONSOLE / "index.html").read_text()
    found = re.search(r'<script type="importmap">(.*?)</script>', html, re.DOTALL)
    return json.loads(found.group(1))["imports"]


def test_vendored_files_match_the_manifest() -> None:
    manifest = json.loads((VENDOR / "VENDOR.json").read_text())
    recorded = set()
    for package in manifest["packages"]:
        assert re.fullmatch(r"\d+\.\d+\.\d+", package["version"]), package
        assert package["integrity"].startswith("sha512-")
        where = ROOT / package["dir"]
        assert where in (VENDOR, TEST_VENDOR), package
        license_text = (VENDOR / package["license"]).read_text()
        # what the console serves is permissive; MPL-2.0 only for unmodified test tools
        allowed = ("MIT", "Apache-2.0") if where == VENDOR else ("MIT", "Apache-2.0", "MPL-2.0")
        assert package["spdx"] in allowed, package
        assert LICENSE_TEXT[package["spdx"]] in license_text
        for name, digest in package["sha256"].items():
            assert hashlib.sha256((where / name).read_bytes()).hexdigest() == digest, name
            recorded.add(where / name)
    on_disk = {p for d in (VENDOR, TEST_VENDOR) for p in d.iterdir() if p.suffix in (".js", ".mjs")}
    assert on_disk == recorded  # no unrecorded vendored file


def test_every_import_resolves() -> None:
    imports = _import_map()
    for target in imports.values():
        assert target.startswith("/console/vendor/")
        assert (CONSOLE / target.removeprefix("/console/")).is_file(), target
    specifier = re.compile(
        r"(?:import|export)\s*(?:\*\s*as\s*[\w$]+|\{[^}]*\}|[\w$]+(?:\s*,\s*\{[^}]*\})?)"
        r'\s*from\s*"([^"]+)"'
    )
    for module in [*CONSOLE.glob("js/*.js"), *VENDOR.glob("*.mjs")]:
        for match in specifier.finditer(module.read_text()):
            spec = match.group(1)
            if spec.startswith("."):
                assert (module.parent / spec).resolve().is_file(), f"{module.name}: {spec}"
            else:
                assert spec in imports, f"{module.name} imports {spec!r}, not in the import map"


def test_nothing_loads_from_another_origin() -> None:
    remote = re.compile(r"""(?:src|href|url|import|from|fetch)\s*[=(]?\s*["'`]?(?:https?:)?//""", re.I)
    for path in CONSOLE.rglob("*"):
        if path.suffix in (".js", ".mjs", ".css", ".html"):
            assert not remote.search(path.read_text()), f"{path} loads from another origin"
