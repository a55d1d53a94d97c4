"""The processes of a benchmark run: ports, core pinning, CPU and memory readings, and
starting the fake providers and the baseline bot (``bench/switchboard_target.py`` starts
Switchboard)."""

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pinned(core: int | None, argv: list[str]) -> list[str]:
    if core is None or shutil.which("taskset") is None:
        return argv
    return ["taskset", "-c", str(core), *argv]


def wait_port(port: int, timeout: float = 60.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"nothing listening on {port} after {timeout}s")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` (and its reaped children) so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    # fields[11..14] = utime, stime, cutime, cstime (stat fields 14-17)
    return sum(int(x) for x in fields[11:15]) / ticks


def descendants(pid: int) -> list[int]:
    """The live processes below ``pid`` (children of any of its threads, recursively)."""
    found: list[int] = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        try:
            threads = list(Path(f"/proc/{parent}/task").iterdir())
        except OSError:
            continue
        for thread in threads:
            with contextlib.suppress(OSError, ValueError):
                kids = [int(c) for c in (thread / "children").read_text().split()]
                found += kids
                todo += kids
    return found


def runqueue_wait_seconds(pid: int) -> float:
    """Time the server's threads spent runnable but waiting for a CPU (schedstat field 2):
    how much other work on the machine took the server's core away from it."""
    total = 0
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return 0.0
    for t in tasks:
        with contextlib.suppress(OSError, IndexError, ValueError):
            total += int((t / "schedstat").read_text().split()[1])
    return total / 1e9


def rss_bytes(pid: int) -> int:
    """Resident set size of ``pid`` and its children (uvicorn may fork)."""
    total = 0
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    except OSError:
        pass
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


class RssSampler(threading.Thread):
    """The peak RSS of ``pid`` (sampled every ``every`` s), and a trace of it: one sample
    per ``trace_every`` s, (seconds since start, bytes), to tell a heap that grows to its
    working set and stays from one that grows with every call."""

    def __init__(self, pid: int, every: float = 0.25, trace_every: float = 5.0) -> None:
        super().__init__(daemon=True)
        self.pid, self.every, self.trace_every = pid, every, trace_every
        self.peak = 0
        self.trace: list[tuple[float, int]] = []
        self._halt = threading.Event()

    def run(self) -> None:
        start = time.monotonic()
        next_trace = start
        while not self._halt.is_set():
            rss = rss_bytes(self.pid)
            self.peak = max(self.peak, rss)
            now = time.monotonic()
            if now >= next_trace:
                self.trace.append((round(now - start, 1), rss))
                next_trace = now + self.trace_every
            self._halt.wait(self.every)

    def stop(self) -> int:
        self._halt.set()
        self.join()
        return self.peak


@dataclass
class Server:
    """A system under test: how to start it and how the load generator reaches it."""

    name: str
    proc: subprocess.Popen
    url: str
    loadtest_args: list[str]
    log: Path
    extra: dict[str, Any] = field(default_factory=dict)
    #: ``DATA_DIR`` of a Switchboard server (its embedded PostgreSQL is under it)
    data_dir: Path | None = None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def postmaster_pid(data_dir: Path) -> int | None:
    """The embedded PostgreSQL's postmaster, from its ``postmaster.pid``."""
    try:
        return int((data_dir / "postgres" / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def helper_cpu_seconds(server: Server) -> float:
    """CPU time of the processes that work for ``server`` on its core but are not it (and
    of the ones they reaped): its child processes (offline engine workers) and its embedded
    PostgreSQL with its backends. ``pg_ctl`` leaves the postmaster parented to init, but it
    inherits the server's pinning; ``cpu_seconds(server)`` sees none of them."""
    pids = descendants(server.proc.pid)
    postmaster = postmaster_pid(server.data_dir) if server.data_dir else None
    if postmaster is not None:
        pids += [postmaster, *descendants(postmaster)]
    return sum(cpu_seconds(pid) for pid in set(pids))


def start_fakes(core: int | None, workdir: Path, *args: str) -> tuple[subprocess.Popen, str]:
    """The fake providers (``tests/fakes/providers.py``; ``args``: its options)."""
    port = free_port()
    log = workdir / "fakes.log"
    proc = subprocess.Popen(
        pinned(core, [PY, "-m", "tests.fakes.providers", "--port", str(port), *args]),
        cwd=ROOT,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    wait_port(port, proc=proc)
    return proc, f"http://127.0.0.1:{port}"


def start_baseline(turn: str, fakes: str, core: int | None, workdir: Path) -> Server:
    port = free_port()
    log = workdir / f"baseline-{turn}.log"
    argv = [PY, "-m", "bench.baseline_bot", "--port", str(port), "--fakes", fakes, "--turn", turn]
    proc = subprocess.Popen(pinned(core, argv), cwd=ROOT, stdout=log.open("w"), stderr=subprocess.STDOUT)
    wait_port(port, proc=proc)
    url = f"http://127.0.0.1:{port}"
    return Server("baseline", proc, url, ["--webhook-path", "/"], log)


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = 0
    with contextlib.suppress(OSError, ValueError, IndexError):
        mem = int(Path("/proc/meminfo").read_text().split()[1]) * 1024
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(mem / 2**30, 1),
        "python": sys.version.split()[0],
        "platform": sys.platform,
    }
