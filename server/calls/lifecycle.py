"""The call lifecycle shared by browser (WebRTC) and phone calls.

``start_call``: admission (concurrency slot), pin the workflow version, create the row.
``run_call_on_transport``: build the agent session and speech providers, run the pipeline
on the caller's transport, write turns/usage as they happen, finalize the row, release the
slot and enqueue the post-call job. ``end_call``: finalize a call that never connected.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import structlog
from pipecat.transports.base_transport import BaseTransport

from db import calls as calls_db
from db import organizations as orgs_db
from db import workflows as workflows_db
from pipeline.call_runner import CallControl, run_call
from pipeline.events import CallEvent, CallResult
from server.calls.session_setup import build_spec
from server.calls.writer import CallRecordWriter
from server.services import Services

log = structlog.get_logger(__name__)

LIVE_CALLS = "live_calls"  # services.state key: {call_id: CallControl}


class CallLimitExceeded(Exception):
    """The organization already has its maximum number of concurrent calls, or its plan
    allows none."""


# Plans (organizations.plan) under which no call is admitted, inbound or outbound.
PLANS_WITHOUT_CALLS = frozenset({"suspended"})


class CallUnavailable(Exception):
    """The workflow is missing, archived or has no published version."""


@dataclass(slots=True)
class NewCall:
    organization_id: UUID
    workflow_id: UUID
    channel: str  # webrtc, twilio, telnyx, ...
    direction: str  # inbound | outbound | browser
    from_number: str | None = None
    to_number: str | None = None
    carrier: str | None = None
    carrier_call_id: str | None = None
    variables: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    test: bool = False  # run the draft instead of the published version
    status: str = "queued"


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


async def start_call(services: Services, new: NewCall) -> CallHandle:
    """Admit a call: pin the workflow version, take a concurrency slot, create the row.

    Raises ``CallUnavailable`` (no runnable workflow) or ``CallLimitExceeded`` (concurrency
    limit reached, or a plan in ``PLANS_WITHOUT_CALLS``; then no row is created).
    """
    org = await orgs_db.get(services.db, new.organization_id)
    if org is None or org["plan"] in PLANS_WITHOUT_CALLS:
        plan = org["plan"] if org else "none"
        raise CallLimitExceeded(f"the organization's plan ({plan}) does not allow calls")
    pinned = await workflows_db.definition_for_call(
        services.db, new.organization_id, new.workflow_id, draft=new.test
    )
    if pinned is None:
        raise CallUnavailable("workflow not found or not published")
    definition, version = pinned
    limit = int(org["max_concurrent_calls"])
    row = await calls_db.create(
        services.db, new.organization_id,
        workflow_id=new.workflow_id, workflow_version=version, channel=new.channel,
        direction=new.direction, from_number=new.from_number, to_number=new.to_number,
        status=new.status, carrier=new.carrier, carrier_call_id=new.carrier_call_id,
        test=new.test, variables=dict(new.variables), metadata=dict(new.metadata),
    )  # fmt: skip
    call_id: UUID = row["id"]
    if not await services.limiter.acquire(str(new.organization_id), str(call_id), limit):
        await calls_db.finalize(services.db, call_id, status="busy", end_reason="concurrency_limit")
        raise CallLimitExceeded(f"limit of {limit} concurrent calls reached")
    return CallHandle(
        call_id=call_id, organization_id=new.organization_id, workflow_id=new.workflow_id,
        workflow_version=version, channel=new.channel, direction=new.direction, test=new.test,
        variables=dict(new.variables), definition=definition,
    )  # fmt: skip


async def load_call(services: Services, call_id: UUID) -> CallHandle:
    """The handle of a call created earlier (e.g. by a carrier webhook), with its pinned
    definition. Raises ``CallUnavailable`` when the call or its workflow version is gone."""
    row = await calls_db.get_by_id(services.db, call_id)
    if row is None or row["workflow_id"] is None:
        raise CallUnavailable("call not found")
    org, wf = row["organization_id"], row["workflow_id"]
    if row["workflow_version"] is None:
        pinned = await workflows_db.definition_for_call(services.db, org, wf, draft=True)
        definition = pinned[0] if pinned else None
    else:
        version = await workflows_db.get_version(services.db, org, wf, row["workflow_version"])
        definition = version["definition"] if version else None
    if definition is None:
        raise CallUnavailable("workflow version not found")
    return CallHandle(
        call_id=call_id, organization_id=org, workflow_id=wf,
        workflow_version=row["workflow_version"], channel=row["channel"],
        direction=row["direction"], test=row["test"], variables=dict(row["variables"] or {}),
        definition=definition,
    )  # fmt: skip


async def update_status(services: Services, call_id: UUID, status: str) -> None:
    await calls_db.update_status(services.db, call_id, status)


async def end_call(services: Services, call_id: UUID, reason: str) -> None:
    """Finalize a call that never ran its pipeline (busy, no answer, dial failure, ...)."""
    status = reason if reason in calls_db.TERMINAL else "canceled"
    row = await calls_db.finalize(services.db, call_id, status=status, end_reason=reason)
    if row is not None:
        await services.limiter.release(str(row["organization_id"]), str(call_id))


async def run_call_on_transport(
    services: Services,
    handle: CallHandle,
    transport: BaseTransport,
    *,
    audio_in_sample_rate: int,
    audio_out_sample_rate: int,
    control: CallControl | None = None,
) -> CallResult | None:
    """Run the call's pipeline on ``transport`` until it ends; always finalizes the row."""
    control = control or CallControl()
    org_key, call_key = str(handle.organization_id), str(handle.call_id)
    live = services.state.setdefault(LIVE_CALLS, {})
    live[call_key] = control
    writer = CallRecordWriter(
        services.db, handle.organization_id, handle.call_id, handle.workflow_id,
        billable_provider=handle.channel,
    )  # fmt: skip
    writer.start()
    refresher = asyncio.create_task(_refresh_slot(services, org_key, call_key))
    result: CallResult | None = None
    status, reason = "failed", "error"
    try:
        spec = await build_spec(
            services, handle,
            audio_in_sample_rate=audio_in_sample_rate, audio_out_sample_rate=audio_out_sample_rate,
        )  # fmt: skip
        await calls_db.mark_answered(services.db, handle.call_id, engine=spec.agent.info.engine)
        log.info("call_started", call_id=call_key, channel=handle.channel,
                 engine=spec.agent.info.engine)  # fmt: skip
        result = await run_call(spec, transport, _ActionSink(services, call_key, writer),
                                control=control)  # fmt: skip
        status = "failed" if result.error else "completed"
        reason = result.end_reason
    except asyncio.CancelledError:
        reason = "cancelled"
        raise
    except Exception:
        log.exception("call_failed", call_id=call_key)
    finally:
        refresher.cancel()
        live.pop(call_key, None)
        await asyncio.shield(_finish(services, handle, writer, result, status, reason))
    return result


async def _finish(services, handle: CallHandle, writer: CallRecordWriter,
                  result: CallResult | None, status: str, reason: str) -> None:  # fmt: skip
    ended_at = result.ended_at if result else datetime.now(UTC)
    try:
        row = await calls_db.finalize(
            services.db, handle.call_id, status=status, end_reason=reason, ended_at=ended_at,
            recording_path=result.recording_path if result else None,
        )  # fmt: skip
        billable = float(row["duration_seconds"] or 0) if row else None
        await writer.close(billable_seconds=billable)
    finally:
        await services.limiter.release(str(handle.organization_id), str(handle.call_id))
    log.info("call_ended", call_id=str(handle.call_id), status=status, reason=reason,
             turns=writer.turns_written)  # fmt: skip
    await _enqueue_post_call(services, handle)


class _ActionSink:
    """The writer, plus the agent's line actions (transfer, DTMF) forwarded as call-control
    commands on ``services.bus``, where the instance holding the call's media executes them
    (phone calls; a browser call has no line to transfer)."""

    def __init__(self, services: Services, call_id: str, writer: CallRecordWriter) -> None:
        self._services = services
        self._call_id = call_id
        self._writer = writer
        self.turn = writer.turn
        self.usage = writer.usage
        self.ended = writer.ended

    def event(self, event: CallEvent) -> None:
        self._writer.event(event)
        if event.kind == "transfer":
            command = {"type": "transfer", "to": event.data.get("to"), "source": "agent"}
        elif event.kind == "dtmf":
            command = {"type": "dtmf", "digits": event.data.get("digits"), "source": "agent"}
        else:
            return
        self._services.spawn(self._services.bus.publish(self._call_id, command))


async def _refresh_slot(services: Services, org_id: str, call_id: str) -> None:
    interval = max(1.0, float(getattr(services.limiter, "ttl", 120.0)) / 3)
    with contextlib.suppress(asyncio.CancelledError):
        while True:
            await asyncio.sleep(interval)
            try:
                await services.limiter.refresh(org_id, call_id)
            except Exception:
                log.warning("call_slot_refresh_failed", call_id=call_id)


async def _enqueue_post_call(services: Services, handle: CallHandle) -> None:
    """Hand the ended call to the post-call job (analysis, webhooks)."""
    from server.jobs import enqueue_post_call

    try:
        await enqueue_post_call(services, handle.organization_id, handle.call_id)
    except Exception:
        log.exception("post_call_enqueue_failed", call_id=str(handle.call_id))
