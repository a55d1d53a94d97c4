"""Minutes used in the billing period: the hard cap at call admission and the summary
(the ``usage.threshold`` alerts are ``server/billing/alerts.py``).

Minutes are the calls' billable seconds (``usage_records`` of kind ``call_seconds``, written
when a call ends) rounded up to whole minutes per call, counted in the period the record
was written in. Admission on a hard-capped plan reads them with one indexed aggregate
(``db.billing.minutes_used``); plans with overage allowed never read them on the call path.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from db import billing as billing_db
from server.billing.catalog import Plan
from server.billing.period import BillingPeriod, current_period

USAGE_CHECK_JOB = "billing.usage_check"  # queued by call.ended; handled in alerts.py


@dataclass(frozen=True, slots=True)
class MinutesUsage:
    period: BillingPeriod
    used: int
    included: int

    @property
    def exhausted(self) -> bool:
        return self.used >= self.included


def period_of(state: Any, now: datetime | None = None) -> BillingPeriod:
    """The organization's current period from its ``db.billing.billing_state`` row."""
    return current_period(state["billing_period_start"], state["billing_period_end"], now)


async def minutes_usage(pool: asyncpg.Pool | asyncpg.Connection, state: Any, plan: Plan,
                        now: datetime | None = None) -> MinutesUsage:  # fmt: skip
    period = period_of(state, now)
    used = await billing_db.minutes_used(pool, state["id"], period.start, period.end)
    return MinutesUsage(period, used, plan.included_minutes)


async def quota_exhausted(pool: asyncpg.Pool, state: Any, plan: Plan) -> bool:
    """Whether a hard-capped plan's included minutes are used up (never for plans that
    allow overage: those are billed for it instead)."""
    if plan.overage != "hard_cap":
        return False
    return (await minutes_usage(pool, state, plan)).exhausted
