"""Plans as data: the ``Plan`` model, the built-in set and the ``PLANS_FILE`` loader.

The built-in plans are ``free``, ``pro``, ``scale`` and ``suspended``. An operator overrides
them with ``PLANS_FILE`` (TOML, or JSON when the name ends in ``.json``): each plan in the
file replaces the built-in plan of the same name wholesale, new names are added, built-in
plans the file does not mention stay. A bad file fails start-up with a message naming the
plan and the field (``PlansFileError``). docs/BILLING.md documents the format.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

PlanName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]{0,31}$")]
StripePriceId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_]{1,255}$")]


class Feature(StrEnum):
    """What a plan may switch on or off (docs/BILLING.md, "Features")."""

    RECORDING = "recording"  # calls may be recorded (the workflow's or RECORD_CALLS)
    CAMPAIGNS = "campaigns"  # outbound campaigns
    BRING_YOUR_OWN_KEYS = "bring_your_own_keys"  # the organization stores provider credentials
    CLOUD_PROVIDERS = "cloud_providers"  # cloud STT/LLM/TTS (else the offline engines only)


class Plan(BaseModel):
    """One plan: what an organization on it may use, and what Stripe bills it with."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: PlanName
    display_name: str = Field(min_length=1, max_length=80)
    description: str = Field(default="", max_length=500)
    # Stripe prices: the base (recurring) price and the metered price overage is billed with
    stripe_price_id: StripePriceId | None = None
    stripe_metered_price_id: StripePriceId | None = None
    included_minutes: int = Field(ge=0, le=100_000_000)  # per billing period
    overage: Literal["allowed", "hard_cap"] = "hard_cap"
    max_concurrent_calls: int = Field(ge=0, le=100_000)  # the ceiling; admins may only lower
    max_workflows: int = Field(ge=0, le=1_000_000)
    max_phone_numbers: int = Field(ge=0, le=1_000_000)
    features: frozenset[Feature] = frozenset()
    allows_calls: bool = True
    purchasable: bool = True  # listed by GET /api/v1/plans

    def has(self, feature: Feature) -> bool:
        return feature in self.features


_ALL = frozenset(Feature)

BUILTIN_PLANS: tuple[Plan, ...] = (
    Plan(name="free", display_name="Free", description="Try it out, with your own provider keys",
         included_minutes=100, overage="hard_cap", max_concurrent_calls=10, max_workflows=10,
         max_phone_numbers=3,
         features=frozenset({Feature.RECORDING, Feature.CAMPAIGNS, Feature.BRING_YOUR_OWN_KEYS,
                             Feature.CLOUD_PROVIDERS})),
    Plan(name="pro", display_name="Pro", description="For teams in production",
         included_minutes=2_000, overage="allowed", max_concurrent_calls=50, max_workflows=100,
         max_phone_numbers=20, features=_ALL),
    Plan(name="scale", display_name="Scale", description="High volume",
         included_minutes=20_000, overage="allowed", max_concurrent_calls=500,
         max_workflows=1_000, max_phone_numbers=500, features=_ALL),
    Plan(name="suspended", display_name="Suspended", description="Nothing is allowed",
         included_minutes=0, overage="hard_cap", max_concurrent_calls=0, max_workflows=0,
         max_phone_numbers=0, allows_calls=False, purchasable=False),
)  # fmt: skip

DEFAULT_PLAN_NAME = "free"


class UnknownPlan(ValueError):
    """The plan name is none of the catalog's."""


class PlansFileError(ValueError):
    """``PLANS_FILE`` is unreadable or invalid; the message names the plan and the field."""


class PlanCatalog:
    """The plans this deployment knows (``Services.plans``, ``Settings.plan_catalog``)."""

    def __init__(self, plans: dict[str, Plan], default: str = DEFAULT_PLAN_NAME) -> None:
        if default not in plans:
            raise PlansFileError(f"the catalog has no {default!r} plan")
        self._plans = dict(plans)
        self._default = default
        self._by_price: dict[str, Plan] = {}
        for plan in self._plans.values():
            for price in (plan.stripe_price_id, plan.stripe_metered_price_id):
                if price is None:
                    continue
                other = self._by_price.setdefault(price, plan)
                if other is not plan:
                    raise PlansFileError(
                        f"plan {plan.name!r}: Stripe price {price!r} is also plan {other.name!r}'s"
                    )

    def __iter__(self) -> Iterator[Plan]:
        return iter(self._plans.values())

    def __contains__(self, name: object) -> bool:
        return name in self._plans

    @property
    def names(self) -> list[str]:
        return list(self._plans)

    def find(self, name: str) -> Plan | None:
        """The plan called ``name``, or None."""
        return self._plans.get(name)

    def get(self, name: str) -> Plan:
        """The plan an organization's stored ``plan`` names; a name the catalog no longer has
        counts as the default plan (``free``)."""
        return self._plans.get(name) or self._plans[self._default]

    def require(self, name: str) -> Plan:
        """The plan called ``name``; ``UnknownPlan`` when there is none."""
        plan = self._plans.get(name)
        if plan is None:
            raise UnknownPlan(f"unknown plan {name!r}: one of {', '.join(self._plans)}")
        return plan

    def purchasable(self) -> list[Plan]:
        """What can be bought (``GET /api/v1/plans``), in catalog order."""
        return [plan for plan in self._plans.values() if plan.purchasable and plan.allows_calls]

    def by_stripe_price(self, price_id: str) -> Plan | None:
        """The plan whose base or metered Stripe price is ``price_id``."""
        return self._by_price.get(price_id)


def builtin_catalog() -> PlanCatalog:
    return PlanCatalog({plan.name: plan for plan in BUILTIN_PLANS})


class _PlansDocument(BaseModel):
    model_config = ConfigDict(extra="forbid")

    plans: dict[str, dict[str, Any]] = Field(min_length=1)


def _describe(error: Any) -> str:
    field = ".".join(str(part) for part in error["loc"]) or "(plan)"
    return f"field {field!r}: {error['msg']}"


def parse_plans(document: Any, *, source: str = "PLANS_FILE") -> PlanCatalog:
    """The catalog from a parsed plans document (``{"plans": {name: {...}}}``) merged over
    the built-in plans."""
    try:
        parsed = _PlansDocument.model_validate(document)
    except ValidationError as exc:
        problems = "; ".join(_describe(error) for error in exc.errors())
        raise PlansFileError(f"{source}: {problems}") from None
    plans = {plan.name: plan for plan in BUILTIN_PLANS}
    for name, values in parsed.plans.items():
        if not isinstance(values, dict):
            raise PlansFileError(f"{source}: plan {name!r}: must be a table of fields")
        if "name" in values and values["name"] != name:
            raise PlansFileError(f"{source}: plan {name!r}: field 'name' differs from its key")
        values = {"display_name": name.replace("_", " ").title(), **values, "name": name}
        try:
            plans[name] = Plan.model_validate(values)
        except ValidationError as exc:
            problems = "; ".join(_describe(error) for error in exc.errors())
            raise PlansFileError(f"{source}: plan {name!r}: {problems}") from None
    try:
        return PlanCatalog(plans)
    except PlansFileError as exc:
        raise PlansFileError(f"{source}: {exc}") from None


def load_catalog(path: Path | None) -> PlanCatalog:
    """The built-in catalog, or the one ``PLANS_FILE`` (TOML, or JSON by its ``.json``
    extension) makes of it."""
    if path is None:
        return builtin_catalog()
    source = f"PLANS_FILE {path}"
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise PlansFileError(f"{source}: cannot read: {exc.strerror or exc}") from None
    try:
        is_json = path.suffix.lower() == ".json"
        document = json.loads(raw) if is_json else tomllib.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:  # JSON/TOML decode errors are ValueErrors
        raise PlansFileError(f"{source}: not valid {_kind(path)}: {exc}") from None
    return parse_plans(document, source=source)


def _kind(path: Path) -> str:
    return "JSON" if path.suffix.lower() == ".json" else "TOML"
