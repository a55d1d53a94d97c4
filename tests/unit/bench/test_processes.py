"""The benchmark's CPU accounting finds the processes that work for a server: its live
children and grandchildren, and its embedded PostgreSQL (a daemon parented to init)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from bench.processes import Server, cpu_seconds, descendants, helper_cpu_seconds, postmaster_pid

# a child that starts a grandchild that burns CPU, then waits
TREE = (
    "import subprocess, sys, time; "
    "subprocess.Popen([sys.executable, '-c', 'import time\\nend = time.time() + 30\\n"
    "while time.time() < end: pass']); time.sleep(30)"
)


def test_live_grandchildren_are_found_and_their_cpu_counted(tmp_path: Path) -> None:
    parent = subprocess.Popen([sys.executable, "-c", TREE])
    try:
        deadline = time.monotonic() + 20
        while len(descendants(parent.pid)) < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        [grandchild] = descendants(parent.pid)
        server = Server("s", parent, "http://127.0.0.1:1", [], tmp_path / "log")
        before = helper_cpu_seconds(server)
        time.sleep(0.5)
        # the grandchild burns CPU; the parent (sleeping) sees none of it in its own figure
        assert helper_cpu_seconds(server) > before
        assert cpu_seconds(grandchild) > 0
    finally:
        for pid in descendants(parent.pid):
            subprocess.run(["kill", str(pid)], check=False)
        parent.kill()
        parent.wait()


def test_the_embedded_postmaster_is_read_from_its_pid_file(tmp_path: Path) -> None:
    assert postmaster_pid(tmp_path) is None
    (tmp_path / "postgres").mkdir()
    (tmp_path / "postgres" / "postmaster.pid").write_text("4242\n/data\n1700000000\n5432\n")
    assert postmaster_pid(tmp_path) == 4242
    (tmp_path / "postgres" / "postmaster.pid").write_text("")
    assert postmaster_pid(tmp_path) is None
