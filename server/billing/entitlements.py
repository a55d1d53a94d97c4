"""Entitlements: what a plan refuses, as errors the API renders, and the checks.

- ``require_feature(plan, Feature.X)``: 403 ``feature_not_in_plan`` (``FeatureNotInPlan``).
- ``within_limit(services, org, "workflows")``: a transaction in which the organization row is
  locked and the count checked against the plan, so two concurrent creations cannot both
  pass the last free place; past the limit a 402 ``plan_limit_reached`` naming the limit.
- ``QuotaExceeded`` (server/calls/admission.py) is the call-path refusal of a hard-capped
  plan whose included minutes are used: 402 ``quota_exceeded`` on the API, the carrier's
  reject markup for inbound calls.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING
from uuid import UUID

import asyncpg

from db import billing as billing_db
from server.billing.catalog import Feature, Plan
from server.errors import ApiError, ErrorDetail, json_pointer

if TYPE_CHECKING:
    from server.services import Services

_LIMITS: dict[billing_db.Counted, tuple[str, str]] = {
    "workflows": ("max_workflows", "workflows"),
    "phone_numbers": ("max_phone_numbers", "phone numbers"),
}


class FeatureNotInPlan(ApiError):
    """403 ``feature_not_in_plan``; ``pointer`` names what asked for it (e.g. /body/record)."""

    def __init__(self, plan: Plan, feature: Feature, pointer: str = "") -> None:
        message = f"the {plan.name} plan does not include {feature.value}"
        super().__init__(403, "feature_not_in_plan", message,
                         ErrorDetail(pointer or json_pointer("plan", "features", feature.value),
                                     "feature_not_in_plan", message))  # fmt: skip
        self.plan = plan
        self.feature = feature


class PlanLimitReached(ApiError):
    """402 ``plan_limit_reached``; the detail's pointer is ``/plan/<limit>``."""

    def __init__(self, plan: Plan, limit: str, value: int, noun: str) -> None:
        message = f"the {plan.name} plan allows at most {value} {noun} ({limit})"
        super().__init__(
            402,
            "plan_limit_reached",
            message,
            ErrorDetail(json_pointer("plan", limit), "plan_limit_reached", message),
        )
        self.plan = plan
        self.limit = limit


def require_feature(plan: Plan, feature: Feature, *, pointer: str = "") -> None:
    """Raise ``FeatureNotInPlan`` (403) unless ``plan`` includes ``feature``."""
    if not plan.has(feature):
        raise FeatureNotInPlan(plan, feature, pointer)


async def plan_of(services: Services, organization_id: UUID) -> Plan:
    """The organization's plan (a plan name the catalog no longer has counts as the default)."""
    state = await billing_db.billing_state(services.db, organization_id)
    return services.plans.get(state["plan"] if state else "")


@asynccontextmanager
async def within_limit(
    services: Services, organization_id: UUID, what: billing_db.Counted
) -> AsyncIterator[asyncpg.Connection]:
    """A connection in a transaction that holds the organization's row lock, entered only
    when one more of ``what`` fits the plan; create the thing on it."""
    async with services.db.acquire() as conn, conn.transaction():
        plan = services.plans.get(await billing_db.lock_plan(conn, organization_id) or "")
        limit, noun = _LIMITS[what]
        allowed = int(getattr(plan, limit))
        if await billing_db.count(conn, organization_id, what) >= allowed:
            raise PlanLimitReached(plan, limit, allowed, noun)
        yield conn
