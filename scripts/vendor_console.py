"""Fetch the console's pinned ES modules from the npm registry into server/console/vendor/.

A developer runs this to add or update a vendored package (``python scripts/vendor_console.py``);
the server, ``make run`` and ``make test`` never do: the vendored files are committed.

For each package it runs ``npm pack <name>@<version>`` in a temporary directory, checks the
tarball against the registry's published integrity (sha512), copies the listed files, and
writes ``VENDOR.json`` (versions, tarball integrity, the sha256 of every vendored file) and
``LICENSES/<name>.txt``. Pin a new version by editing PACKAGES and rerunning.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENDOR = ROOT / "server" / "console" / "vendor"
TEST_VENDOR = ROOT / "tests" / "browser" / "vendor"  # test-only tools: never served


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    files: dict[str, str]  # path inside the tarball's package/ -> vendored file name
    license_file: str = "LICENSE"
    dest: Path = VENDOR


PACKAGES = [
    Package(
        "preact", "11.2.0", {"dist/preact.mjs": "preact.mjs", "hooks/dist/hooks.mjs": "preact-hooks.mjs"}
    ),
    Package("htm", "3.1.1", {"dist/htm.mjs": "htm.mjs"}),
    # the accessibility audit of tests/browser/test_console_a11y.py (MPL-2.0, unmodified)
    Package("axe-core", "4.14.1", {"axe.min.js": "axe.min.js"}, dest=TEST_VENDOR),
]


def _npm(*args: str, cwd: Path) -> str:
    out = subprocess.run(["npm", *args], cwd=cwd, check=True, capture_output=True, text=True)  # noqa: S603,S607
    return out.stdout.strip()


def _check_integrity(tarball: Path, integrity: str) -> None:
    algo, _, expected = integrity.partition("-")
    if algo != "sha512":
        raise SystemExit(f"{tarball.name}: unexpected integrity algorithm {algo!r}")
    actual = base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
    if actual != expected:
        raise SystemExit(f"{tarball.name}: sha512 does not match the registry's integrity")


def vendor(package: Package, work: Path, licenses: Path) -> dict[str, object]:
    spec = f"{package.name}@{package.version}"
    integrity = _npm("view", spec, "dist.integrity", cwd=work)
    tar_name = _npm("pack", spec, "--silent", cwd=work).splitlines()[-1]
    tarball = work / tar_name
    _check_integrity(tarball, integrity)
    unpacked = work / package.name
    with tarfile.open(tarball) as tar:
        tar.extractall(unpacked, filter="data")
    files: dict[str, str] = {}
    for source, target in package.files.items():
        data = (unpacked / "package" / source).read_bytes()
        package.dest.mkdir(parents=True, exist_ok=True)
        (package.dest / target).write_bytes(data)
        files[target] = hashlib.sha256(data).hexdigest()
    shutil.copyfile(unpacked / "package" / package.license_file, licenses / f"{package.name}.txt")
    meta = json.loads((unpacked / "package" / "package.json").read_text())
    return {
        "name": package.name,
        "version": package.version,
        "integrity": integrity,
        "spdx": meta.get("license"),
        "source": {t: s for s, t in package.files.items()},
        "license": f"LICENSES/{package.name}.txt",
        "sha256": files,
        "dir": str(package.dest.relative_to(ROOT)),
    }


def main() -> int:
    if shutil.which("npm") is None:
        print("npm is needed to update the vendored modules (not to run the console)", file=sys.stderr)
        return 1
    licenses = VENDOR / "LICENSES"
    licenses.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        records = [vendor(p, Path(tmp), licenses) for p in PACKAGES]
    manifest = {
        "generated_by": "scripts/vendor_console.py",
        "registry": "https://registry.npmjs.org",
        "packages": records,
    }
    (VENDOR / "VENDOR.json").write_text(json.dumps(manifest, indent=2) + "\n")
    for r in records:
        print(f"{r['name']}@{r['version']}: {', '.join(r['sha256'])}")  # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
