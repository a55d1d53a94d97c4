"""Background jobs on the PostgreSQL queue (``db/jobs.py``): post-call analysis, webhooks.

``job_worker(services)`` is the lifespan hook that runs the worker inside the server
(``JOBS_ENABLED``, default on); ``switchboard worker`` runs it as its own process.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING
from uuid import UUID

import structlog

from server.jobs.post_call import enqueue_call_ended

if TYPE_CHECKING:
    from server.jobs.worker import JobWorker
    from server.services import Services

log = structlog.get_logger(__name__)

__all__ = ["enqueue_call_ended", "enqueue_post_call", "job_worker", "run_worker"]


async def enqueue_post_call(services: Services, organization_id: UUID, call_id: UUID) -> None:
    """``enqueue_call_ended`` for callers holding the Services (wakes a local worker)."""
    await enqueue_call_ended(services.db, organization_id, call_id)
    if services.job_worker is not None:
        services.job_worker.wake()


@contextlib.asynccontextmanager
async def run_worker(services: Services) -> AsyncIterator[JobWorker]:
    """Run a job worker for the duration of the context; leaving it drains the worker
    (``JobWorker.stop``: jobs in flight finish up to ``JOBS_DRAIN_SECONDS``, the rest are
    released at once for another worker)."""
    from server.jobs.registry import HANDLERS, SCHEDULES
    from server.jobs.worker import JobWorker

    worker = JobWorker(services, HANDLERS, SCHEDULES)
    task = asyncio.create_task(worker.run(), name="job-worker")
    services.job_worker = worker
    log.info("job_worker_started", worker_id=worker.worker_id,
             concurrency=worker.concurrency)
    try:
        yield worker
    finally:
        try:
            await worker.stop()
            with contextlib.suppress(TimeoutError):  # its loop ends by itself once stopped
                await asyncio.wait_for(asyncio.shield(task), 5.0)
        finally:
            services.job_worker = None
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


@contextlib.asynccontextmanager
async def job_worker(services: Services) -> AsyncIterator[None]:
    """Lifespan hook: the in-process worker, unless ``JOBS_ENABLED=false``."""
    if not services.settings.jobs_enabled:
        yield
        return
    async with run_worker(services):
        yield
