"""Job kinds and their handlers (one line per kind), and the periodic jobs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from db import carriers as carriers_db
from db import jobs as jobs_db
from server.billing import alerts as billing_alerts
from server.billing import stripe_meter, stripe_sync, stripe_webhooks
from server.campaigns.dispatcher import scheduled_tick as campaigns_tick
from server.jobs import post_call, webhooks
from server.jobs.worker import JobHandler, Schedule
from server.recordings.retention import SWEEP_EVERY_SECONDS, sweep_expired_recordings

if TYPE_CHECKING:
    from server.services import Services

KEEP_FINISHED_SECONDS = 7 * 86_400.0  # finished jobs stay visible for a week

HANDLERS: dict[str, JobHandler] = {
    post_call.CALL_ENDED_JOB: post_call.handle_call_ended,
    post_call.ANALYZE_JOB: post_call.handle_analyze,
    webhooks.DELIVER_JOB: webhooks.deliver,
    stripe_webhooks.EVENT_JOB: stripe_webhooks.process,
    stripe_meter.METER_JOB: stripe_meter.send_call_usage,
    post_call.USAGE_CHECK_JOB: billing_alerts.check_usage_thresholds,
}

# Called once a job of this kind has failed for the last time.
GIVE_UP_HOOKS: dict[str, Callable[[Any, Any], Awaitable[None]]] = {
    webhooks.DELIVER_JOB: webhooks.give_up,
}


async def purge_finished_jobs(services: Services) -> int:
    return await jobs_db.purge_finished(services.db, older_than_seconds=KEEP_FINISHED_SECONDS)


async def purge_stream_tokens(services: Services) -> int:
    """Expired media-stream tokens of calls whose stream never connected."""
    return await carriers_db.purge_expired_stream_tokens(services.db)


# Run once per interval across the fleet, by whichever worker claims it (`job_schedules`).
SCHEDULES: tuple[Schedule, ...] = (
    Schedule("jobs.purge_finished", 3600.0, purge_finished_jobs),
    Schedule("calls.purge_stream_tokens", 600.0, purge_stream_tokens),
    # every instance dispatches campaigns: this (re)starts the local loop while any runs
    Schedule("campaigns.dispatch", 5.0, campaigns_tick),
    # past-due subscriptions past BILLING_PAST_DUE_GRACE_DAYS: suspended
    Schedule("billing.past_due_grace", 3600.0, stripe_sync.suspend_past_grace),
    # RECORDING_RETENTION_DAYS: delete expired recordings from the store, mark their calls
    Schedule("recordings.retention", SWEEP_EVERY_SECONDS, sweep_expired_recordings),
)
