"""An organization's plan: what it may use, and the operators' switch between plans.

Plans are data (``server/billing/catalog.py``: the ``Plan`` model, the built-in set and the
``PLANS_FILE`` loader); the process holds one ``PlanCatalog`` (``Services.plans``, built from
``Settings.plan_catalog``). An organization's ``plan`` column names one of its plans;
operators set it with ``switchboard set-plan`` (``change_plan`` below), never organization
members.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

from db import organizations as orgs_db
from server.billing.catalog import (
    BUILTIN_PLANS,
    DEFAULT_PLAN_NAME,
    Feature,
    Plan,
    PlanCatalog,
    PlansFileError,
    UnknownPlan,
    builtin_catalog,
    load_catalog,
)

__all__ = [
    "BUILTIN_PLANS", "DEFAULT_PLAN_NAME", "Feature", "Plan", "PlanCatalog", "PlansFileError",
    "DEFAULT_PLAN", "UnknownPlan", "builtin_catalog", "change_plan", "concurrent_call_limit", "load_catalog",
]  # fmt: skip

DEFAULT_PLAN: Plan = builtin_catalog().get(DEFAULT_PLAN_NAME)  # the built-in free plan


def concurrent_call_limit(org: Any, catalog: PlanCatalog) -> int:
    """The limit a call admission applies: the organization's own, within its plan's ceiling."""
    plan = catalog.get(org["plan"])
    if not plan.allows_calls:
        return 0
    return min(int(org["max_concurrent_calls"]), plan.max_concurrent_calls)


async def change_plan(
    pool: asyncpg.Pool | asyncpg.Connection, organization_id: UUID, name: str,
    *, catalog: PlanCatalog,
) -> asyncpg.Record | None:  # fmt: skip
    """Operators' (and Stripe's) switch: set the plan and reset the concurrent-call limit to
    its ceiling (admins may lower it again). Raises ``UnknownPlan`` for a name the catalog
    does not have. Returns the organization row, None when it does not exist."""
    plan = catalog.require(name)
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
