"""Usage alerts: the ``usage.threshold`` customer webhook at 80 % and 100 % of the plan's
included minutes, once per billing period and threshold, sent by the ``billing.usage_check``
job that ``call.ended`` queues (never on the call path).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import asyncpg
import structlog

from db import billing as billing_db
from server.billing.catalog import Plan
from server.billing.usage import MinutesUsage, minutes_usage
from server.jobs.webhooks import emit_event

if TYPE_CHECKING:
    from server.services import Services

log = structlog.get_logger(__name__)

USAGE_THRESHOLD_EVENT = "usage.threshold"
THRESHOLDS = (80, 100)  # percent of the plan's included minutes


async def check_usage_thresholds(services: Services, job: asyncpg.Record) -> None:
    """The ``billing.usage_check`` job (queued by ``call.ended``): send ``usage.threshold``
    for each threshold reached in this period and not yet alerted. The alert row and the
    deliveries are one unit: a failure rolls the row back and the job's retry sends it."""
    organization_id = job["organization_id"]
    state = await billing_db.billing_state(services.db, organization_id)
    if state is None:
        return
    plan = services.plans.get(state["plan"])
    if plan.included_minutes <= 0 or not plan.allows_calls:
        return
    usage = await minutes_usage(services.db, state, plan, datetime.now(UTC))
    for threshold in THRESHOLDS:
        if usage.used * 100 < threshold * usage.included:
            break
        async with services.db.acquire() as conn, conn.transaction():
            first = await billing_db.record_alert(
                conn, organization_id, period_start=usage.period.start, threshold=threshold,
                minutes_used=usage.used, included_minutes=usage.included,
            )  # fmt: skip
            if first:
                await emit_event(services, organization_id, USAGE_THRESHOLD_EVENT,
                                 threshold_event(plan, usage, threshold))  # fmt: skip
                log.info("usage_threshold_reached", organization_id=str(organization_id),
                         threshold=threshold, minutes_used=usage.used)  # fmt: skip


def threshold_event(plan: Plan, usage: MinutesUsage, threshold: int) -> dict[str, Any]:
    return {
        "threshold_percent": threshold,
        "minutes_used": usage.used,
        "included_minutes": usage.included,
        "plan": plan.name,
        "overage": plan.overage,
        "period_start": usage.period.start.isoformat(),
        "period_end": usage.period.end.isoformat(),
    }
