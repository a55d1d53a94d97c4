"""Job queue evaluation: Switchboard's PostgreSQL queue (``db/jobs.py``) vs. pgqueuer.

Runs on a scratch database of a local PostgreSQL server (``DATABASE_URL``, default
``postgresql://postgres@127.0.0.1:5432/postgres``; the scratch database is dropped after):

- throughput: 5,000 no-op jobs, 4 at a time, jobs/s from the first claim to the last finish;
- fairness: organization A enqueues 2,000 jobs (5 ms of work each), then organization B
  enqueues 10; when does B's last job finish (seconds after B enqueued), compared with the
  whole backlog?

    python -m bench.job_queue [--jobs 5000] [--backlog 2000] [--out bench/results/x.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import asyncpg

from db import jobs as jobs_db
from db import organizations as organizations_db
from db.migrate import migrate_url
from db.pool import create_pool

CONCURRENCY = 4
WORK_SECONDS = 0.005  # the fairness run's per-job work


@dataclass
class Clock:
    """Completion times of the jobs, per organization tag."""

    started: float = field(default_factory=time.perf_counter)
    done: dict[str, list[float]] = field(default_factory=dict)
    expected: int = 0
    finished: asyncio.Event = field(default_factory=asyncio.Event)

    def record(self, tag: str) -> None:
        self.done.setdefault(tag, []).append(time.perf_counter())
        if sum(len(v) for v in self.done.values()) >= self.expected:
            self.finished.set()


async def _scratch_database(admin_url: str) -> tuple[str, str]:
    name = f"bench_jobs_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base, _, _ = admin_url.rpartition("/")
    return name, f"{base}/{name}"


async def _drop_database(admin_url: str, name: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def _organizations(pool: asyncpg.Pool, n: int) -> list[uuid.UUID]:
    ids = []
    for i in range(n):
        ids.append((await organizations_db.create(pool, f"bench-{i}"))["id"])
    return ids


async def _until_finished(clock: Clock, runner: asyncio.Task[None] | None) -> None:
    """Wait for every job, surfacing a worker that died instead."""
    waiter = asyncio.ensure_future(clock.finished.wait())
    assert runner is not None
    await asyncio.wait({waiter, runner}, timeout=600, return_when=asyncio.FIRST_COMPLETED)
    if not waiter.done():
        waiter.cancel()
        runner.result()  # raises the worker's error
        raise TimeoutError("jobs did not finish")


# --- ours ---------------------------------------------------------------------------------


async def ours_run(pool: asyncpg.Pool, batches: list[tuple[str, uuid.UUID, int]], work: float) -> Clock:
    """Enqueue ``batches`` ([(tag, organization, count)], in order) and run them all."""
    from server.jobs.worker import JobWorker

    clock = Clock(expected=sum(n for _, _, n in batches))
    enqueued_at: dict[str, float] = {}

    async def handler(_services: Any, job: asyncpg.Record) -> None:
        if work:
            await asyncio.sleep(work)
        clock.record(job["payload"]["tag"])

    settings = SimpleNamespace(
        jobs_concurrency=CONCURRENCY,
        jobs_poll_seconds=1.0,
        job_retry_base_seconds=10.0,
        jobs_drain_seconds=5.0,
    )
    services = SimpleNamespace(db=pool, settings=settings, job_worker=None)
    worker = JobWorker(services, {"bench": handler})  # type: ignore[arg-type]
    first = True
    task: asyncio.Task[None] | None = None
    for tag, org, n in batches:
        enqueued_at[tag] = time.perf_counter()
        await jobs_db.enqueue_many(pool, "bench", [{"tag": tag}] * n, organization_id=org)
        if first:
            clock.started = time.perf_counter()
            task = asyncio.create_task(worker.run())
            first = False
        worker.wake()
    await _until_finished(clock, task)
    assert task is not None
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    clock.enqueued_at = enqueued_at  # type: ignore[attr-defined]
    return clock


# --- pgqueuer ------------------------------------------------------------------------------


async def pgq_run(url: str, batches: list[tuple[str, uuid.UUID, int]], work: float) -> Clock:
    from pgqueuer import AsyncpgDriver, QueueManager
    from pgqueuer.models import Job
    from pgqueuer.queries import Queries

    clock = Clock(expected=sum(n for _, _, n in batches))
    enqueued_at: dict[str, float] = {}
    conn = await asyncpg.connect(url)
    enq = await asyncpg.connect(url)
    queries = Queries(AsyncpgDriver(enq))
    qm = QueueManager(Queries(AsyncpgDriver(conn)))

    @qm.entrypoint("bench")
    async def handler(job: Job) -> None:
        if work:
            await asyncio.sleep(work)
        clock.record(json.loads(job.payload or b"{}")["tag"])

    task: asyncio.Task[None] | None = None
    for tag, org, n in batches:
        enqueued_at[tag] = time.perf_counter()
        payload = json.dumps({"tag": tag, "organization_id": str(org)}).encode()
        await queries.enqueue(["bench"] * n, [payload] * n, [0] * n)
        if task is None:
            clock.started = time.perf_counter()
            task = asyncio.create_task(
                qm.run(
                    max_concurrent_tasks=CONCURRENCY,
                    batch_size=CONCURRENCY // 2,
                    dequeue_timeout=timedelta(seconds=1),
                )
            )
    await _until_finished(clock, task)
    qm.shutdown.set()
    assert task is not None
    await asyncio.wait_for(asyncio.gather(task, return_exceptions=True), 30)
    await conn.close()
    await enq.close()
    clock.enqueued_at = enqueued_at  # type: ignore[attr-defined]
    return clock


async def _install_pgqueuer(url: str) -> None:
    from pgqueuer import AsyncpgDriver
    from pgqueuer.queries import Queries

    conn = await asyncpg.connect(url)
    try:
        await Queries(AsyncpgDriver(conn)).install()
    finally:
        await conn.close()


def _throughput(clock: Clock, n: int) -> dict[str, float]:
    last = max(t for ts in clock.done.values() for t in ts)
    elapsed = last - clock.started
    return {"jobs": n, "seconds": round(elapsed, 3), "jobs_per_second": round(n / elapsed, 1)}


def _fairness(clock: Clock) -> dict[str, float]:
    enq = clock.enqueued_at  # type: ignore[attr-defined]
    last_a = max(clock.done["A"])
    last_b = max(clock.done["B"])
    return {
        "backlog_done_after_s": round(last_a - enq["A"], 3),
        "small_org_done_after_s": round(last_b - enq["B"], 3),
        "small_org_done_before_backlog_fraction": round(
            sum(t <= last_b for t in clock.done["A"]) / len(clock.done["A"]), 3
        ),
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    admin_url = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    name, url = await _scratch_database(admin_url)
    try:
        await migrate_url(url)
        await _install_pgqueuer(url)
        pool = await create_pool(url, max_size=CONCURRENCY + 4)
        a, b = await _organizations(pool, 2)
        results: dict[str, Any] = {"concurrency": CONCURRENCY, "work_seconds": WORK_SECONDS}

        results["ours_throughput"] = _throughput(await ours_run(pool, [("A", a, args.jobs)], 0.0), args.jobs)
        results["pgqueuer_throughput"] = _throughput(
            await pgq_run(url, [("A", a, args.jobs)], 0.0), args.jobs
        )

        fair = [("A", a, args.backlog), ("B", b, 10)]
        await jobs_db.purge_finished(pool, older_than_seconds=0)
        results["ours_fairness"] = _fairness(await ours_run(pool, fair, WORK_SECONDS))
        results["pgqueuer_fairness"] = _fairness(await pgq_run(url, fair, WORK_SECONDS))
        await pool.close()
    finally:
        await _drop_database(admin_url, name)
    return results


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--backlog", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    results = asyncio.run(main(args))
    text = json.dumps(results, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    cli()
