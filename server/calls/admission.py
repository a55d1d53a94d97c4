"""Admission: whether a call may start, and its row.

``start_call`` checks, in order: the instance (draining, ``MAX_LIVE_CALLS``), the
organization's plan (calls allowed; a hard-capped plan's included minutes, docs/BILLING.md),
the workflow (pinned version, or the draft for test calls), then creates the row and takes
one of the organization's concurrency slots (fleet-wide with Redis). ``load_call`` is the
handle of a call created earlier (a carrier webhook), ``end_call`` finalizes a call that
never ran its pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal
from uuid import UUID, uuid4

import structlog

from db import billing as billing_db
from db import calls as calls_db
from db import workflows as workflows_db
from db.calls import CallStatus
from pipeline.events import EndReason
from runtime.workflow import CallSettings
from server.billing.catalog import Feature
from server.billing.entitlements import require_feature
from server.billing.plans import concurrent_call_limit
from server.billing.usage import quota_exhausted

if TYPE_CHECKING:
    from server.services import Services

log = structlog.get_logger(__name__)

RETRY_AFTER_SECONDS = 5  # what a refused caller is told to wait when this instance is full


class CallLimitExceeded(Exception):
    """The organization already has its maximum number of concurrent calls, or its plan
    allows none."""


class QuotaExceeded(CallLimitExceeded):
    """The organization's plan is hard-capped and its included minutes for the billing
    period are used up (402 ``quota_exceeded``; inbound calls get the carrier's reject)."""


class CallUnavailable(Exception):
    """The workflow is missing, archived or has no published version."""


class InstanceUnavailable(Exception):
    """This instance takes no new call: it is shutting down, or carries ``MAX_LIVE_CALLS``."""

    def __init__(self, reason: Literal["draining", "instance_full"]) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = RETRY_AFTER_SECONDS


@dataclass(slots=True)
class NewCall:
    organization_id: UUID
    workflow_id: UUID
    channel: str  # webrtc, or the carrier's name
    direction: str  # inbound | outbound | browser
    # how long its media may take to arrive: this instance holds a place for it meanwhile
    connect_within_seconds: float = 60.0
    from_number: str | None = None
    to_number: str | None = None
    carrier: str | None = None
    carrier_call_id: str | None = None
    variables: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    test: bool = False  # run the draft instead of the published version
    status: CallStatus = CallStatus.QUEUED
    call_id: UUID | None = None  # the row's id, when the caller needs it before admission
    # record this call: None follows RECORD_CALLS; either way only when the plan includes it
    record: bool | None = None
    language: str | None = None  # BCP-47 for this call; None: the workflow's settings.language


@dataclass(slots=True)
class CallHandle:
    call_id: UUID
    organization_id: UUID
    workflow_id: UUID | None
    workflow_version: int | None
    channel: str
    direction: str
    test: bool
    variables: dict[str, str]
    definition: dict[str, Any] | None = None
    record: bool = True  # decided at admission (settings, plan, request): metadata["record"]
    language: str | None = None  # the call's own language (calls.language); None: the workflow's


def check_instance(services: Services) -> None:
    """Raise ``InstanceUnavailable`` when this instance takes no new call."""
    if services.draining:
        raise InstanceUnavailable("draining")
    if not services.live_calls.has_room():
        raise InstanceUnavailable("instance_full")


async def start_call(services: Services, new: NewCall) -> CallHandle:
    """Admit a call: instance room, plan, pinned workflow version, the row, a slot.

    Raises ``InstanceUnavailable``, ``CallLimitExceeded`` (plan or concurrency; the row of a
    call refused for concurrency is kept as ``busy``) or ``CallUnavailable`` (no runnable
    workflow). Nothing is created unless the call was admitted or refused for concurrency.
    """
    check_instance(services)
    org = await billing_db.billing_state(services.db, new.organization_id)
    plan = services.plans.get(org["plan"]) if org else None
    if org is None or plan is None or not plan.allows_calls:
        name = org["plan"] if org else "none"
        raise CallLimitExceeded(f"the organization's plan ({name}) does not allow calls")
    if await quota_exhausted(services.db, org, plan):
        raise QuotaExceeded(f"the {plan.name} plan's {plan.included_minutes} included minutes "
                            "for this billing period are used")  # fmt: skip
    if new.record:  # asked for explicitly: 403 feature_not_in_plan without it
        require_feature(plan, Feature.RECORDING, pointer="/body/record")
    record = services.settings.record_calls if new.record is None else new.record
    record = record and plan.has(Feature.RECORDING)
    pinned = await workflows_db.definition_for_call(
        services.db, new.organization_id, new.workflow_id, draft=new.test
    )
    if pinned is None:
        raise CallUnavailable("workflow not found or not published")
    definition, version = pinned
    language = new.language or workflow_language(definition)
    call_id = new.call_id or uuid4()
    key = str(call_id)
    if not services.live_calls.reserve(key, new.connect_within_seconds):
        raise InstanceUnavailable("instance_full")
    try:
        await calls_db.create(
            services.db, new.organization_id, call_id=call_id,
            workflow_id=new.workflow_id, workflow_version=version, channel=new.channel,
            direction=new.direction, from_number=new.from_number, to_number=new.to_number,
            status=new.status, carrier=new.carrier, carrier_call_id=new.carrier_call_id,
            test=new.test, variables=dict(new.variables),
            metadata={**new.metadata, "record": record}, language=language,
        )  # fmt: skip
        limit = concurrent_call_limit(org, services.plans)  # the organization's, within its plan's ceiling
        admitted = await services.limiter.acquire(str(new.organization_id), key, limit)
    except BaseException:
        services.live_calls.release(key)
        raise
    if not admitted:
        services.live_calls.release(key)
        await calls_db.finalize(services.db, call_id, status=CallStatus.BUSY,
                                end_reason=EndReason.CONCURRENCY_LIMIT)  # fmt: skip
        raise CallLimitExceeded(f"limit of {limit} concurrent calls reached")
    return CallHandle(
        call_id=call_id, organization_id=new.organization_id, workflow_id=new.workflow_id,
        workflow_version=version, channel=new.channel, direction=new.direction, test=new.test,
        variables=dict(new.variables), definition=definition, record=record, language=language,
    )  # fmt: skip


async def load_call(services: Services, call_id: UUID) -> CallHandle:
    """The handle of a call created earlier (e.g. by a carrier webhook), with its pinned
    definition. Raises ``CallUnavailable`` when the call or its workflow version is gone."""
    row = await calls_db.get_by_id(services.db, call_id)
    if row is None or row.workflow_id is None:
        raise CallUnavailable("call not found")
    definition = await pinned_definition(services, row.organization_id, row.workflow_id,
                                         row.workflow_version)  # fmt: skip
    if definition is None:
        raise CallUnavailable("workflow version not found")
    return CallHandle(
        call_id=call_id, organization_id=row.organization_id, workflow_id=row.workflow_id,
        workflow_version=row.workflow_version, channel=row.channel, direction=row.direction,
        test=row.test, variables=dict(row.variables), definition=definition,
        record=bool(row.metadata.get("record", True)), language=row.language,
    )  # fmt: skip


def workflow_language(definition: dict[str, Any]) -> str:
    """A definition's ``settings.language`` (the default, en-US, when it does not say)."""
    settings = definition.get("settings")
    language = settings.get("language") if isinstance(settings, dict) else None
    return language if isinstance(language, str) else CallSettings().language


async def pinned_definition(services: Services, organization_id: UUID, workflow_id: UUID,
                            version: int | None) -> dict[str, Any] | None:  # fmt: skip
    """The definition a call runs: its pinned version, or the draft (test calls)."""
    if version is None:
        pinned = await workflows_db.definition_for_call(services.db, organization_id,
                                                        workflow_id, draft=True)  # fmt: skip
        return pinned[0] if pinned else None
    found = await workflows_db.get_version(services.db, organization_id, workflow_id, version)
    return found["definition"] if found else None


async def update_status(services: Services, call_id: UUID, status: CallStatus) -> None:
    await calls_db.update_status(services.db, call_id, status)


async def end_call(services: Services, call_id: UUID, reason: EndReason,
                   status: CallStatus | None = None) -> None:  # fmt: skip
    """Finalize a call that never ran its pipeline (busy, no answer, dial failure, never
    connected, ...): the row, its concurrency slot and this instance's place for it.
    ``status`` defaults to the reason when it is a final status, else ``canceled``."""
    if status is None:
        status = CallStatus(reason) if reason in {s.value for s in CallStatus} else CallStatus.CANCELED
    services.live_calls.release(str(call_id))
    ended = await calls_db.finalize(services.db, call_id, status=status, end_reason=reason)
    if ended is not None:
        await services.limiter.release(str(ended.organization_id), str(call_id))
