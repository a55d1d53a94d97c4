"""The job queue: drain releases unfinished jobs at once, idempotent enqueue, priorities,
schedules once per interval across workers.

Runs on a database of its own with no in-process worker, so only the workers a test starts
claim its jobs.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from db import jobs as jobs_db
from db import organizations as organizations_db
from server.app import open_services
from server.jobs import run_worker
from server.jobs.post_call import CALL_ENDED_JOB, enqueue_call_ended
from server.jobs.registry import HANDLERS
from server.jobs.worker import JobWorker, Schedule
from server.services import Services
from tests.conftest import make_settings, own_database


@pytest.fixture(scope="module")
async def services(database_url: str, data_dir: Path) -> AsyncIterator[Services]:
    async with own_database(database_url, "sb_jobs", migrate=False) as url:
        settings = make_settings(url, data_dir, jobs_enabled=False, jobs_drain_seconds=0.2)
        async with open_services(settings) as opened:
            yield opened


async def _eventually(predicate: Any, timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out waiting"
        await asyncio.sleep(0.02)


def _start(worker: JobWorker) -> asyncio.Task[None]:
    return asyncio.create_task(worker.run())


async def test_stopped_worker_releases_unfinished_job_for_another_at_once(services: Services) -> None:
    started = asyncio.Event()
    runs: list[str] = []

    async def slow(_services: Any, job: Any) -> None:
        runs.append(job["locked_by"])
        started.set()
        if len(runs) == 1:
            await asyncio.sleep(3600)  # the first run never finishes by itself

    first = JobWorker(services, {"test.slow": slow})
    first_task = _start(first)
    job = await jobs_db.enqueue(services.db, "test.slow", {})
    first.wake()
    await asyncio.wait_for(started.wait(), 30)

    await first.stop(drain_seconds=0.2)
    await asyncio.wait_for(first_task, 10)
    released = await jobs_db.get(services.db, job["id"])
    # Claimable now: queued, due, no lease, the interrupted attempt not counted.
    assert released["status"] == "queued"
    assert released["locked_by"] is None and released["locked_at"] is None
    assert released["attempts"] == 0
    assert await services.db.fetchval("SELECT run_at <= now() FROM jobs WHERE id = $1", job["id"])

    second = JobWorker(services, {"test.slow": slow})
    second_task = _start(second)

    async def done() -> bool:
        return (await jobs_db.get(services.db, job["id"]))["status"] == "done"

    await _eventually(done)
    await second.stop()
    await asyncio.wait_for(second_task, 10)
    finished = await jobs_db.get(services.db, job["id"])
    assert finished["attempts"] == 1 and finished["last_error"] is None
    assert runs == [first.worker_id, second.worker_id]  # ran once more, by the other worker


async def test_stop_lets_jobs_in_flight_finish_within_the_bound(services: Services) -> None:
    gate = asyncio.Event()
    started = asyncio.Event()

    async def short(_services: Any, _job: Any) -> None:
        started.set()
        await gate.wait()

    worker = JobWorker(services, {"test.short": short})
    task = _start(worker)
    job = await jobs_db.enqueue(services.db, "test.short", {})
    worker.wake()
    await asyncio.wait_for(started.wait(), 30)

    stopping = asyncio.create_task(worker.stop(drain_seconds=30))
    await asyncio.sleep(0.05)
    later = await jobs_db.enqueue(services.db, "test.short", {})  # draining: not claimed
    await asyncio.sleep(0.3)
    gate.set()
    await asyncio.wait_for(stopping, 10)
    await asyncio.wait_for(task, 10)
    assert (await jobs_db.get(services.db, job["id"]))["status"] == "done"
    untouched = await jobs_db.get(services.db, later["id"])
    assert (untouched["status"], untouched["attempts"]) == ("queued", 0)
    await services.db.execute("DELETE FROM jobs WHERE id = $1", later["id"])


async def test_enqueue_with_a_dedupe_key_is_idempotent(services: Services) -> None:
    key = f"meter:{uuid.uuid4()}"
    first = await jobs_db.enqueue(services.db, "test.meter", {"n": 1}, dedupe_key=key)
    again = await jobs_db.enqueue(services.db, "test.meter", {"n": 2}, dedupe_key=key)
    other_kind = await jobs_db.enqueue(services.db, "test.other", {"n": 3}, dedupe_key=key)
    assert again["id"] == first["id"] and again["payload"] == {"n": 1}
    assert other_kind["id"] != first["id"]
    assert await services.db.fetchval("SELECT count(*) FROM jobs WHERE dedupe_key = $1", key) == 2
    without = [await jobs_db.enqueue(services.db, "test.meter", {}) for _ in range(2)]
    assert without[0]["id"] != without[1]["id"]  # no key: every enqueue is a job
    await services.db.execute("DELETE FROM jobs WHERE kind IN ('test.meter', 'test.other')")


async def test_higher_priority_is_claimed_first(services: Services) -> None:
    low = await jobs_db.enqueue(services.db, "test.prio", {"p": "low"})
    high = await jobs_db.enqueue(services.db, "test.prio", {"p": "high"}, priority=10)
    claimed = await jobs_db.claim(services.db, "test-worker", limit=1, lease_seconds=300)
    assert [j["id"] for j in claimed] == [high["id"]]
    claimed = await jobs_db.claim(services.db, "test-worker", limit=1, lease_seconds=300)
    assert [j["id"] for j in claimed] == [low["id"]]
    await services.db.execute("DELETE FROM jobs WHERE kind = 'test.prio'")


async def test_a_schedule_runs_once_per_interval_across_workers(services: Services) -> None:
    runs: list[str] = []
    name = f"test.schedule.{uuid.uuid4().hex[:8]}"

    def schedule_for(worker_name: str) -> Schedule:
        async def run(_services: Services) -> None:
            runs.append(worker_name)

        return Schedule(name, 3600.0, run)

    workers = [JobWorker(services, {}, [schedule_for(f"w{i}")]) for i in range(3)]
    await asyncio.gather(*(w.run_due_schedules() for w in workers))
    assert len(runs) == 1
    for worker in workers:  # asked again: not due for another hour
        worker._next_check[name] = 0.0
    await asyncio.gather(*(w.run_due_schedules() for w in workers))
    assert len(runs) == 1
    row = await services.db.fetchrow(
        "SELECT next_run_at - last_run_at AS every, last_run_by FROM job_schedules WHERE name = $1", name
    )
    assert row["every"].total_seconds() == 3600.0
    assert row["last_run_by"] in {w.worker_id for w in workers}


async def test_a_failing_schedule_keeps_its_error_until_it_runs_again(services: Services) -> None:
    name = f"test.failing.{uuid.uuid4().hex[:8]}"
    runs: list[int] = []

    async def flaky(_services: Services) -> None:
        runs.append(1)
        if len(runs) == 1:
            raise ValueError("housekeeping broke")

    async def last_error() -> str | None:
        return await services.db.fetchval("SELECT last_error FROM job_schedules WHERE name = $1", name)

    worker = JobWorker(services, {}, [Schedule(name, 0.01, flaky)])
    await worker.run_due_schedules()  # the error is kept; the worker carries on
    assert await last_error() == "ValueError: housekeeping broke"
    await asyncio.sleep(0.05)  # the next interval
    worker._next_check[name] = 0.0
    await worker.run_due_schedules()
    assert len(runs) == 2 and await last_error() is None


async def test_leaving_run_worker_drains_like_a_sigterm(services: Services) -> None:
    """``switchboard worker`` and the server's lifespan leave ``run_worker`` on shutdown:
    the job in flight is released at once, not left to its lease."""
    started = asyncio.Event()

    async def stuck(_services: Any, _job: Any) -> None:
        started.set()
        await asyncio.sleep(3600)

    HANDLERS["test.stuck"] = stuck
    try:
        async with run_worker(services) as worker:
            job = await jobs_db.enqueue(services.db, "test.stuck", {})
            worker.wake()
            await asyncio.wait_for(started.wait(), 30)
        assert services.job_worker is None
    finally:
        HANDLERS.pop("test.stuck", None)
    released = await jobs_db.get(services.db, job["id"])
    assert (released["status"], released["attempts"], released["locked_by"]) == ("queued", 0, None)
    await services.db.execute("DELETE FROM jobs WHERE id = $1", job["id"])


async def test_post_call_work_is_queued_once_per_call(services: Services) -> None:
    org = (await organizations_db.create(services.db, "post-call"))["id"]
    call_id = uuid.uuid4()
    await enqueue_call_ended(services.db, org, call_id)
    await enqueue_call_ended(services.db, org, call_id)  # e.g. a sweeper for the same call
    assert (
        await services.db.fetchval(
            "SELECT count(*) FROM jobs WHERE kind = $1 AND payload->>'call_id' = $2",
            CALL_ENDED_JOB,
            str(call_id),
        )
        == 1
    )


async def test_leaving_open_services_stops_the_dispatcher_the_schedule_started(
    database_url: str, data_dir: Path
) -> None:
    """``switchboard worker`` runs the fleet schedule, whose campaign tick starts this
    process's dispatcher; leaving ``open_services`` stops that dispatcher before the pool
    closes (it used to tick on against a closed pool, once a second, forever)."""
    async with own_database(database_url, "sb_jobs_stop", migrate=False) as url:
        settings = make_settings(url, data_dir, jobs_enabled=False)
        async with open_services(settings) as services, run_worker(services):
            async with asyncio.timeout(30):  # the worker runs every schedule once at start
                while services.campaigns is None or services.campaigns._loop is None:
                    await asyncio.sleep(0.02)
            dispatcher = services.campaigns
            loop = dispatcher._loop
            assert not loop.done()
        assert dispatcher.stopped and loop.done()
