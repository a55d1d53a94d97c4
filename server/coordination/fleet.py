"""What every process of the fleet runs beside its work (``instance(services)``, entered by
``open_services``): the heartbeat of its live calls, the lost-call sweeper, the instance
gauges, the event-loop lag ticker (with the stall log and collector pauses of
``server.loop_health``) and the database pool gauges.

Heartbeat: every ``CALL_HEARTBEAT_SECONDS`` one batched UPDATE stamps ``heartbeat_at`` and
this instance's id on every call it carries (running, or admitted and waiting for media).
Sweeper: every ``CALL_SWEEP_SECONDS`` one instance at a time (advisory lock) finalizes calls
silent for ``CALL_LOST_AFTER_SECONDS`` (``failed``/``instance_lost``), releases their
concurrency slots and enqueues their post-call job. So no call stays in progress longer
than ``CALL_LOST_AFTER_SECONDS + CALL_SWEEP_SECONDS`` after its instance stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING
from uuid import UUID

import structlog

from db import fleet as fleet_db
from server import loop_health, metrics

if TYPE_CHECKING:
    import asyncpg

    from server.services import Services

log = structlog.get_logger(__name__)
# the database pools of this process's running apps (one in production; tests run several):
# a closed app's pool leaves the gauges instead of reading 0 for the apps still running
_POOLS: list[asyncpg.Pool] = []
TICK_SECONDS = 0.01  # the event-loop lag ticker
LAG_WINDOW_SECONDS = 10.0


def instance_id() -> str:
    """This process's name in ``calls.instance_id``: host, pid and a random suffix."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(3)}"


def carried_calls(services: Services) -> list[UUID]:
    live = services.live_calls
    live.count()  # drops lapsed reservations
    ids = [*live.running, *live.reserved()]
    return [UUID(c) for c in dict.fromkeys(ids)]


async def beat(services: Services) -> int:
    return await fleet_db.heartbeat(services.db, services.instance_id, carried_calls(services))


async def sweep(services: Services) -> int:
    """Finalize lost calls (see module docstring); how many, or 0 when another instance
    holds the sweep."""
    from server.jobs import enqueue_post_call

    bound = services.settings.call_lost_after_seconds
    lost = await fleet_db.sweep_lost(services.db, lost_after_seconds=bound)
    for call in lost or ():
        log.warning("call_lost", call_id=str(call.id), end_reason=call.end_reason)
        metrics.LOST_CALLS.inc()
        try:
            await services.limiter.release(str(call.organization_id), str(call.id))
            await enqueue_post_call(services, call.organization_id, call.id)
        except Exception:
            log.exception("lost_call_cleanup_failed", call_id=str(call.id))
    return len(lost or ())


async def _every(seconds: float, name: str, work) -> None:  # type: ignore[no-untyped-def]
    while True:
        try:
            await work()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("fleet_task_failed", task=name, error=str(exc)[:300])
        await asyncio.sleep(seconds)


async def _loop_lag() -> None:
    loop = asyncio.get_running_loop()
    window_end, worst = loop.time() + LAG_WINDOW_SECONDS, 0.0
    pauses = loop_health.GC_PAUSES
    while True:
        started, collecting = loop.time(), pauses.total
        await asyncio.sleep(TICK_SECONDS)
        now = loop.time()
        lag = max(0.0, now - started - TICK_SECONDS)
        metrics.LOOP_LAG.observe(lag)
        if lag >= loop_health.STALL_SECONDS:
            loop_health.report_stall(lag, pauses.total - collecting)
        worst = max(worst, lag)
        if now >= window_end:
            metrics.LOOP_LAG_MAX.set(worst)
            window_end, worst = now + LAG_WINDOW_SECONDS, 0.0


@contextlib.asynccontextmanager
async def instance(services: Services) -> AsyncIterator[None]:
    """Run the heartbeat, the sweeper and the instance metrics for the context."""
    settings = services.settings
    live = services.live_calls
    metrics.LIVE_CALLS.set_function(live.count)
    metrics.MAX_LIVE_CALLS.set(live.limit or 0)
    metrics.DRAINING.set_function(lambda: 1.0 if services.draining else 0.0)
    _POOLS.append(services.db)  # the gauges sum this process's pools (one per app)
    metrics.DB_POOL_SIZE.set_function(lambda: sum(p.get_size() for p in _POOLS))
    metrics.DB_POOL_IN_USE.set_function(
        lambda: sum(p.get_size() - p.get_idle_size() for p in _POOLS))
    metrics.DB_POOL_MAX.set_function(lambda: sum(p.get_max_size() for p in _POOLS))
    loop_health.GC_PAUSES.install()
    tasks = [
        asyncio.create_task(
            _every(settings.call_heartbeat_seconds, "heartbeat", lambda: beat(services)),
            name="call-heartbeat",
        ),  # fmt: skip
        asyncio.create_task(
            _every(settings.call_sweep_seconds, "sweep", lambda: sweep(services)), name="call-sweeper"
        ),  # fmt: skip
        asyncio.create_task(_loop_lag(), name="loop-lag"),
    ]
    try:
        yield
    finally:
        _POOLS.remove(services.db)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
