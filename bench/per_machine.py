"""Calls per machine: ``WORKERS`` server processes on all of the machine's cores.

    python -m bench.per_machine [--workers 1,2] [--turn flux] [--levels 1,8,16,24,32,40]

``make bench`` measures calls per *core*: one server process pinned to core 0, the load
generator and the fake providers on core 1. This measures what a machine carries when
``switchboard serve --workers N`` runs N uvicorn worker processes on one port (the
fleet-wide limiter of docs/FLEET.md through Redis, one PostgreSQL database), for each N in
``--workers``, with the same dense callers and the same bounds per level (bench/capacity.py).

Nothing is pinned: the server's workers, the load generator and the fake providers share
every core, as they must on a 2-core machine (a fair split needs a machine with cores to
spare for the load). So the figure is a lower bound of what the workers carry, and the
ratio between N values (same machine, same load generator, minutes apart) is how the
server scales with workers here. PostgreSQL and Redis are the machine's own
(``DATABASE_URL``, default ``postgresql://postgres@127.0.0.1:5432/postgres``: a database
of its own is created per N and dropped after; ``REDIS_URL``, default
``redis://127.0.0.1:6379/0``, with a prefix of its own), not the embedded PostgreSQL, which
one process owns. Results: ``bench/results/per-machine-<date>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import tempfile
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from bench.capacity import capacity_search, log
from bench.processes import ROOT, helper_cpu_seconds, machine, start_fakes
from bench.switchboard_target import Fleet, start_switchboard

RESULTS = ROOT / "bench" / "results"
DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


async def _admin(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _database(admin_url: str, name: str) -> str:
    return urlunsplit(urlsplit(admin_url)._replace(path=f"/{name}"))


def measure(workers: int, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Capacity of ``workers`` processes, unpinned, on a fresh database."""
    name = f"bench_machine_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(args.database_url, f'CREATE DATABASE "{name}"'))
    fleet = Fleet(workers, _database(args.database_url, name), args.redis_url, f"bench-{name}")
    fakes_proc, fakes = start_fakes(None, workdir)
    server = None
    try:
        server = start_switchboard(args.turn, fakes, None, workdir, fleet=fleet)
        server.name = f"switchboard-{workers}-workers"
        result = capacity_search(server, args.levels, args.turns, None, workdir, args.bisect)
        # the workers are the server's children: helper_cpu_seconds sees them (the parent
        # only supervises); PostgreSQL is the machine's, in no figure
        result["worker_cpu_seconds"] = round(helper_cpu_seconds(server), 1)
        return result
    finally:
        if server is not None:
            server.stop()
        fakes_proc.terminate()
        fakes_proc.wait(30)
        asyncio.run(_admin(args.database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def summary(results: dict[int, dict[str, Any]]) -> str:
    one = results.get(1, {}).get("capacity")
    rows = ["| workers | calls on the machine within bounds | first failing level (reason) | × 1 worker |",
            "|---|---|---|---|"]  # fmt: skip
    for workers, res in sorted(results.items()):
        cap, fail = res["capacity"], res["first_failure"]
        ratio = f"{cap / one:.2f}×" if one else "—"
        why = (f"{fail} ({res['levels'][str(fail)]['verdict']})" if fail is not None
               else "none up to the last level")  # fmt: skip
        rows.append(f"| {workers} | {cap} | {why} | {ratio} |")
    return "\n".join(rows)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workers", default="1,2", help="comma-separated worker counts to measure")
    p.add_argument("--turn", default="flux", choices=["flux", "smart-turn"])
    p.add_argument("--levels", default="1,8,16,24,32,40",
                   help="concurrency levels stepped through, then bisected")  # fmt: skip
    p.add_argument("--turns", type=int, default=3, help="caller turns per call")
    p.add_argument("--bisect", type=int, default=2, help="bisection steps after the first failure")
    p.add_argument("--database-url", default=os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL))
    p.add_argument("--redis-url", default=os.environ.get("REDIS_URL", DEFAULT_REDIS_URL))
    args = p.parse_args()
    args.levels = [int(n) for n in args.levels.split(",")]
    counts = [int(n) for n in args.workers.split(",")]
    if any(n < 1 for n in counts) or 1 not in args.levels:
        p.error("--workers must be >= 1 and --levels must start at 1 (the v2v reference)")
    started = dt.datetime.now(dt.UTC)
    results: dict[int, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-machine-") as tmp:
        for workers in counts:
            log(f"{workers} worker(s), {args.turn}, levels {args.levels}")
            results[workers] = measure(workers, args, Path(tmp))
            log(f"{workers} worker(s): capacity {results[workers]['capacity']}")
    report = {
        "started": started.isoformat(timespec="seconds"),
        "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "turn": args.turn,
        "command": "python -m bench.per_machine " + " ".join(
            f"--{k.replace('_', '-')} {v}" for k, v in (
                ("workers", args.workers), ("turn", args.turn),
                ("levels", ",".join(map(str, args.levels))), ("turns", args.turns),
                ("bisect", args.bisect))),  # fmt: skip
        "results": {str(k): v for k, v in results.items()},
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"per-machine-{started.date().isoformat()}.json"
    out.write_text(json.dumps(report, indent=1, default=str))
    print(summary(results))
    print(f"results: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
