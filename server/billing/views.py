"""What the billing routes answer: a plan's public face and an organization's billing state.

``SubscriptionView`` is the payment side (Stripe) of ``GET /api/v1/billing``; it is null
until a subscription exists (the Stripe integration fills it in).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from server.billing.catalog import Feature, Plan
from server.billing.usage import MinutesUsage

_DAY = 86_400.0


class PlanOut(BaseModel):
    name: str
    display_name: str
    description: str
    stripe_price_id: str | None = Field(description="Stripe base (recurring) price, if sold")
    stripe_metered_price_id: str | None = Field(description="Stripe metered price for overage")
    included_minutes: int = Field(description="Call minutes included per billing period")
    overage: Literal["allowed", "hard_cap"] = Field(
        description="allowed: minutes past the included ones are billed (metered price); "
        "hard_cap: calls are refused (402 quota_exceeded) once they are used"
    )
    max_concurrent_calls: int
    max_workflows: int
    max_phone_numbers: int
    features: list[Feature]
    allows_calls: bool

    @classmethod
    def of(cls, plan: Plan) -> PlanOut:
        return cls(
            name=plan.name, display_name=plan.display_name, description=plan.description,
            stripe_price_id=plan.stripe_price_id,
            stripe_metered_price_id=plan.stripe_metered_price_id,
            included_minutes=plan.included_minutes, overage=plan.overage,
            max_concurrent_calls=plan.max_concurrent_calls, max_workflows=plan.max_workflows,
            max_phone_numbers=plan.max_phone_numbers,
            features=sorted(plan.features, key=lambda f: f.value), allows_calls=plan.allows_calls,
        )  # fmt: skip


class PlansOut(BaseModel):
    plans: list[PlanOut]


class PeriodOut(BaseModel):
    start: datetime
    end: datetime = Field(description="Exclusive")


class MinutesOut(BaseModel):
    used: int = Field(description="Billable minutes this period (each call rounded up)")
    included: int
    remaining: int
    overage: int = Field(description="Minutes past the included ones so far")
    projected: int = Field(description="Minutes at the end of the period at the pace so far")
    projected_overage: int = Field(
        description="Projected minutes past the included ones (0 on a hard-capped plan)"
    )

    @classmethod
    def of(cls, usage: MinutesUsage, plan: Plan, now: datetime) -> MinutesOut:
        period = usage.period
        length = (period.end - period.start).total_seconds()
        # at least a day's worth of the period has passed for the projection's pace
        elapsed = max(period.elapsed_fraction(now) * length, min(_DAY, length))
        projected = round(usage.used * length / elapsed) if elapsed > 0 else usage.used
        projected = max(projected, usage.used)
        capped = plan.overage == "hard_cap"
        return cls(
            used=usage.used, included=usage.included,
            remaining=max(usage.included - usage.used, 0),
            overage=max(usage.used - usage.included, 0),
            projected=projected,
            projected_overage=0 if capped else max(projected - usage.included, 0),
        )  # fmt: skip


class LimitsOut(BaseModel):
    max_concurrent_calls: int = Field(description="The organization's limit (within the plan's)")
    plan_max_concurrent_calls: int
    max_workflows: int
    workflows: int = Field(description="Workflows now (archived ones do not count)")
    max_phone_numbers: int
    phone_numbers: int


class SubscriptionView(BaseModel):
    status: str = Field(description="Stripe's subscription status (active, trialing, past_due, ...)")
    current_period_end: datetime | None = None
    cancel_at_period_end: bool = False


class BillingOut(BaseModel):
    plan: PlanOut
    period: PeriodOut
    minutes: MinutesOut
    limits: LimitsOut
    features: dict[Feature, bool] = Field(description="Every feature, and whether the plan has it")
    subscription: SubscriptionView | None = Field(
        default=None, description="The paid subscription, when there is one"
    )
    payments: bool = Field(
        default=False,
        description="This server takes payments (Stripe configured): Checkout, Portal and "
        "invoices answer instead of 409 billing_disabled",
    )
