"""The job worker: claims due jobs and runs their handlers, retrying with backoff.

It wakes on ``NOTIFY switchboard_jobs`` (sent by every enqueue) and otherwise polls every
``JOBS_POLL_SECONDS``. Claims are fair across organizations (``db/jobs.claim``): one
organization's backlog (2,000 webhooks) does not hold up the others' jobs. Up to
``JOBS_CONCURRENCY`` jobs run at once. A handler that raises gets its job retried after
``JOB_RETRY_BASE_SECONDS * 2^(attempt-1)`` (capped at an hour, with jitter) until the
job's ``max_attempts``; every error is kept in ``last_error``.

Schedules run once per interval across the fleet (``db/jobs.claim_schedule``). ``stop``
drains: no more claims, jobs in flight get up to ``JOBS_DRAIN_SECONDS`` to finish, then the
rest are released at once (lease cleared, attempt not counted) for another worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import asyncpg
import structlog

from db import jobs as jobs_db

if TYPE_CHECKING:
    from server.services import Services

log = structlog.get_logger(__name__)

JobHandler = Callable[["Services", asyncpg.Record], Awaitable[None]]
LEASE_SECONDS = 300.0
MAX_BACKOFF_SECONDS = 3600.0
MAX_SCHEDULE_CHECK_SECONDS = 60.0  # how often a worker asks whether a schedule is due


@dataclass(frozen=True, slots=True)
class Schedule:
    """Periodic work run once every ``every_seconds`` across the fleet (first when no
    worker has run it yet), by whichever worker claims it; a failure is logged, kept in
    ``job_schedules.last_error`` and retried at the next interval."""

    name: str
    every_seconds: float
    run: Callable[[Services], Awaitable[object]]


def backoff_seconds(base: float, attempt: int) -> float:
    """Exponential backoff for the ``attempt``-th failure (1-based), with 10% jitter."""
    delay = min(base * 2 ** max(attempt - 1, 0), MAX_BACKOFF_SECONDS)
    return delay * (1 + random.uniform(0, 0.1))


class JobWorker:
    def __init__(self, services: Services, handlers: dict[str, JobHandler],
                 schedules: Sequence[Schedule] = ()) -> None:
        self.services = services
        self.handlers = handlers
        self.schedules = tuple(schedules)
        self._next_check = {schedule.name: 0.0 for schedule in self.schedules}
        settings = services.settings
        self.concurrency = settings.jobs_concurrency
        self.poll_seconds = settings.jobs_poll_seconds
        self.retry_base = settings.job_retry_base_seconds
        self.drain_seconds = settings.jobs_drain_seconds
        self._stopping = False
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._wake = asyncio.Event()
        self._running: set[asyncio.Task[None]] = set()
        self._listener: asyncpg.Connection | None = None
        self._served_last: list[Any] = []  # organizations of the previous claim (fairness)
        self.processed = 0

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        """Claim and run jobs until ``stop`` (or cancelled: in-flight jobs are released)."""
        await self._listen()
        try:
            while not self._stopping:
                self._wake.clear()  # before claiming: a NOTIFY from now on is not lost
                await self.run_due_schedules()
                free = self.concurrency - len(self._running)
                claimed = []
                if free > 0 and not self._stopping:
                    try:
                        claimed = await jobs_db.claim(
                            self.services.db, self.worker_id, limit=free,
                            lease_seconds=LEASE_SECONDS, served_last=self._served_last)
                    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
                        log.exception("job_claim_failed")
                if claimed:
                    self._served_last = [j["organization_id"] for j in claimed
                                         if j["organization_id"] is not None]
                for job in claimed:
                    if self._stopping:  # stopped while claiming: hand it straight back
                        await self._release(job)
                        continue
                    task = asyncio.create_task(self._run_job(job), name=f"job:{job['kind']}")
                    self._running.add(task)
                    task.add_done_callback(self._job_done)
                if claimed and len(claimed) == free:
                    continue  # there may be more due right now
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
        finally:
            if not self._stopping:  # cancelled: release what runs (stop drains it itself)
                await self._cancel_running()
            await self._unlisten()

    async def stop(self, drain_seconds: float | None = None) -> None:
        """Drain: stop claiming, give jobs in flight up to ``drain_seconds`` (default
        ``JOBS_DRAIN_SECONDS``) to finish, then release the unfinished ones at once."""
        self._stopping = True
        self._wake.set()
        bound = self.drain_seconds if drain_seconds is None else drain_seconds
        if self._running:
            log.info("job_worker_draining", running=len(self._running), bound_seconds=bound)
            await asyncio.wait(set(self._running), timeout=bound)
        await self._cancel_running()

    async def _cancel_running(self) -> None:
        for task in list(self._running):
            task.cancel()  # _run_job releases its job
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)

    async def run_due_schedules(self) -> None:
        now = asyncio.get_running_loop().time()
        for schedule in self.schedules:
            if now < self._next_check[schedule.name]:
                continue
            self._next_check[schedule.name] = now + min(schedule.every_seconds,
                                                        MAX_SCHEDULE_CHECK_SECONDS)
            pool = self.services.db
            try:
                if not await jobs_db.claim_schedule(pool, schedule.name,
                                                    schedule.every_seconds, self.worker_id):
                    continue  # not due, or another worker took this interval
                await schedule.run(self.services)
                await jobs_db.record_schedule_error(pool, schedule.name, None)
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
                log.warning("job_schedule_failed", schedule=schedule.name, error=str(exc)[:300])
                with contextlib.suppress(Exception):
                    await jobs_db.record_schedule_error(pool, schedule.name, str(exc))
            except Exception as exc:
                log.exception("job_schedule_failed", schedule=schedule.name)
                with contextlib.suppress(Exception):
                    await jobs_db.record_schedule_error(
                        pool, schedule.name, f"{type(exc).__name__}: {exc}")

    def _job_done(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self._wake.set()  # a slot is free
        if not task.cancelled() and task.exception() is not None:
            # Only bookkeeping can fail here (handlers' errors are caught): the lease expires
            # and the job is claimed again.
            log.error("job_bookkeeping_failed", error=str(task.exception())[:300])

    async def _run_job(self, job: asyncpg.Record) -> None:
        handler = self.handlers.get(job["kind"])
        pool = self.services.db
        try:
            if handler is None:
                raise LookupError(f"no handler for job kind {job['kind']!r}")
            await handler(self.services, job)
        except asyncio.CancelledError:
            # Stopping: hand the job back at once for another worker (not a failure).
            await self._release(job)
            raise
        except Exception as exc:
            final = job["attempts"] >= job["max_attempts"]
            retry = None if final else backoff_seconds(self.retry_base, job["attempts"])
            log.warning("job_failed", kind=job["kind"], job_id=str(job["id"]),
                        attempt=job["attempts"], final=final, error=str(exc)[:300])
            await jobs_db.fail(pool, job["id"], f"{type(exc).__name__}: {exc}",
                               retry_in_seconds=retry)
            if retry is not None:  # wake up for the retry instead of waiting for a poll
                asyncio.get_running_loop().call_later(retry, self._wake.set)
            if final:
                await _on_gave_up(self.services, job, exc)
        else:
            await jobs_db.complete(pool, job["id"])
        self.processed += 1

    async def _release(self, job: asyncpg.Record) -> None:
        try:
            await asyncio.shield(jobs_db.release(self.services.db, job["id"], self.worker_id))
            log.info("job_released", kind=job["kind"], job_id=str(job["id"]))
        except Exception as exc:  # the lease still expires; another worker takes it then
            log.warning("job_release_failed", job_id=str(job["id"]), error=str(exc)[:300])

    async def _listen(self) -> None:
        try:
            self._listener = await self.services.db.acquire()
            await self._listener.add_listener(jobs_db.NOTIFY_CHANNEL, self._notified)
        except (asyncpg.PostgresError, OSError):
            log.warning("job_listen_unavailable", detail="polling only")
            await self._unlisten()

    async def _unlisten(self) -> None:
        conn, self._listener = self._listener, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.remove_listener(jobs_db.NOTIFY_CHANNEL, self._notified)
            await self.services.db.release(conn)

    def _notified(self, *args: Any) -> None:
        self._wake.set()


async def _on_gave_up(services: Services, job: asyncpg.Record, exc: Exception) -> None:
    """Let a job family mark its own records failed once retries are exhausted."""
    from server.jobs.registry import GIVE_UP_HOOKS

    hook = GIVE_UP_HOOKS.get(job["kind"])
    if hook is not None:
        try:
            await hook(services, job)
        except Exception:
            log.exception("job_give_up_hook_failed", kind=job["kind"])
