"""Plans and the organization's billing state: ``GET /api/v1/plans`` (what can be bought)
and ``GET /api/v1/billing`` (plan, period, minutes, limits, features, subscription).
Any member reads both (docs/BILLING.md); changing the plan is the operators' (``switchboard
set-plan``) or the payment integration's."""

from __future__ import annotations

from datetime import UTC, datetime

from db import billing as billing_db
from server.api import ApiContext, Router
from server.billing.catalog import Feature
from server.billing.plans import concurrent_call_limit
from server.billing.stripe_sync import subscription_of
from server.billing.usage import minutes_usage
from server.billing.views import (
    BillingOut,
    LimitsOut,
    MinutesOut,
    PeriodOut,
    PlanOut,
    PlansOut,
    SubscriptionView,
)
from server.errors import not_found

router = Router(tags=["billing"])


@router.get("/api/v1/plans", response=PlansOut,
            summary="The plans that can be bought: limits, included minutes, features")  # fmt: skip
async def list_plans(ctx: ApiContext) -> PlansOut:
    return PlansOut(plans=[PlanOut.of(plan) for plan in ctx.services.plans.purchasable()])


@router.get("/api/v1/billing", response=BillingOut,
            summary="The organization's plan, billing period, minutes used and included, "
                    "projected overage, limits and features")  # fmt: skip
async def get_billing(ctx: ApiContext) -> BillingOut:
    org = ctx.caller.organization_id
    now = datetime.now(UTC)
    async with ctx.db.acquire() as conn:
        state = await billing_db.billing_state(conn, org)
        if state is None:
            raise not_found("organization")
        plan = ctx.services.plans.get(state["plan"])
        usage = await minutes_usage(conn, state, plan, now)
        workflows = await billing_db.count(conn, org, "workflows")
        numbers = await billing_db.count(conn, org, "phone_numbers")
    return BillingOut(
        plan=PlanOut.of(plan),
        period=PeriodOut(start=usage.period.start, end=usage.period.end),
        minutes=MinutesOut.of(usage, plan, now),
        limits=LimitsOut(
            max_concurrent_calls=concurrent_call_limit(state, ctx.services.plans),
            plan_max_concurrent_calls=plan.max_concurrent_calls,
            max_workflows=plan.max_workflows,
            workflows=workflows,
            max_phone_numbers=plan.max_phone_numbers,
            phone_numbers=numbers,
        ),  # fmt: skip
        features={feature: plan.has(feature) for feature in Feature},
        subscription=(
            SubscriptionView(status=sub.status, current_period_end=sub.current_period_end,
                             cancel_at_period_end=sub.cancel_at_period_end)
            if (sub := await subscription_of(ctx.db, org)) is not None else None
        ),  # fmt: skip
        payments=ctx.services.settings.stripe_api_key is not None,
    )
