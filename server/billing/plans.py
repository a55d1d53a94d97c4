"""The built-in plans: what an organization on each plan may use.

Plans are data, not code branches: a later billing issue adds prices and quotas as fields.
An organization's ``plan`` column names one of these; operators set it with
``switchboard set-plan`` (``change_plan`` below), never organization members.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg

from db import organizations as orgs_db


@dataclass(frozen=True, slots=True)
class Plan:
    name: str
    max_concurrent_calls: int  # the ceiling; organization admins may only lower their limit
    allows_calls: bool = True


PLANS: dict[str, Plan] = {
    plan.name: plan
    for plan in (
        Plan("free", max_concurrent_calls=10),
        Plan("pro", max_concurrent_calls=50),
        Plan("scale", max_concurrent_calls=500),
        Plan("suspended", max_concurrent_calls=0, allows_calls=False),
    )
}
DEFAULT_PLAN = PLANS["free"]


class UnknownPlan(ValueError):
    """The plan name is none of ``PLANS``."""


def plan_named(name: str) -> Plan:
    """The plan called ``name``; a stored name that is no longer built in counts as free."""
    return PLANS.get(name, DEFAULT_PLAN)


def concurrent_call_limit(org: Any) -> int:
    """The limit a call admission applies: the organization's own, within its plan's ceiling."""
    plan = plan_named(org["plan"])
    if not plan.allows_calls:
        return 0
    return min(int(org["max_concurrent_calls"]), plan.max_concurrent_calls)


async def change_plan(
    pool: asyncpg.Pool | asyncpg.Connection, organization_id: UUID, name: str
) -> asyncpg.Record | None:
    """Operators' switch: set the plan and reset the concurrent-call limit to its ceiling
    (admins may lower it again). Returns the organization row, None when it does not exist."""
    plan = PLANS.get(name)
    if plan is None:
        raise UnknownPlan(f"unknown plan {name!r}: one of {', '.join(PLANS)}")
    from server import audit  # the audit log imports nothing from billing

    row = await orgs_db.set_plan(
        pool, organization_id, plan.name, max_concurrent_calls=plan.max_concurrent_calls
    )
    if row is not None:
        await audit.record_system(
            pool, organization_id, audit.AuditAction.PLAN_CHANGED,
            target_type="organization", target_id=organization_id, details={"plan": plan.name},
        )  # fmt: skip
    return row
