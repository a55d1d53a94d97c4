"""A call's session: run its pipeline on the caller's transport, then finalize it.

``run_call_on_transport`` builds the spec (``setup``), marks the call answered, runs the
pipeline with the batched record writer as its sink, keeps the call's concurrency slot
alive, and always finalizes: the row (status, end reason, recording), the billable seconds,
the slot, this instance's registry, and the post-call job.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import structlog
from pipecat.transports.base_transport import BaseTransport

from db import calls as calls_db
from db.calls import CallStatus
from pipeline.call_runner import CallControl, run_call
from pipeline.events import CallEvent, CallResult, EndReason
from server.calls.admission import CallHandle
from server.calls.commands import CallCommand, SendDtmf, Transfer
from server.calls.records import CallRecordWriter, PostgresRecordStore
from server.calls.setup import build_spec
from server.tracing import call_span, trace_id_hex

if TYPE_CHECKING:
    from server.services import Services

log = structlog.get_logger(__name__)


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
    services.live_calls.start(call_key, control)
    store = PostgresRecordStore(services.db, handle.organization_id, handle.call_id,
                                handle.workflow_id)  # fmt: skip
    writer = CallRecordWriter(store, handle.call_id, billable_provider=handle.channel)
    writer.start()
    refresher = asyncio.create_task(_refresh_slot(services, org_key, call_key))
    result: CallResult | None = None
    status, reason = CallStatus.FAILED, EndReason.ERROR
    with call_span(call_key, org_key, handle.channel) as span:  # no-op unless tracing
        try:
            spec = await build_spec(
                services, handle,
                audio_in_sample_rate=audio_in_sample_rate,
                audio_out_sample_rate=audio_out_sample_rate,
            )  # fmt: skip
            await calls_db.mark_answered(services.db, handle.call_id, engine=spec.agent.info.engine,
                                         trace_id=trace_id_hex(span))
            log.info("call_started", call_id=call_key, channel=handle.channel,
                     engine=spec.agent.info.engine)  # fmt: skip
            result = await run_call(spec, transport, _ActionSink(services, call_key, writer),
                                    control=control)  # fmt: skip
            status = CallStatus.FAILED if result.error else CallStatus.COMPLETED
            reason = result.end_reason
        except asyncio.CancelledError:
            reason = EndReason.CANCELED
            raise
        except Exception:
            log.exception("call_failed", call_id=call_key)
        finally:
            refresher.cancel()
            services.live_calls.release(call_key)
            await asyncio.shield(_finish(services, handle, writer, result, status, reason))
            span.set_attributes({"call.status": str(status), "call.end_reason": str(reason)})
    return result


async def _finish(services: Services, handle: CallHandle, writer: CallRecordWriter,
                  result: CallResult | None, status: CallStatus, reason: EndReason) -> None:  # fmt: skip
    ended_at = result.ended_at if result else datetime.now(UTC)
    try:
        await writer.flush()  # every turn is stored before the call reads as ended
        ended = await calls_db.finalize(
            services.db, handle.call_id, status=status, end_reason=reason, ended_at=ended_at,
            recording_path=result.recording_path if result else None,
        )  # fmt: skip
        await writer.close(billable_seconds=ended.duration_seconds if ended else None)
        if result is not None and result.recording_path:  # stored in the background
            services.recordings.call_ended(handle.organization_id, handle.call_id,
                                           result.recording_path)  # fmt: skip
    finally:
        await services.limiter.release(str(handle.organization_id), str(handle.call_id))
    log.info("call_ended", call_id=str(handle.call_id), status=status, reason=reason,
             turns=writer.turns_written)  # fmt: skip
    await _enqueue_post_call(services, handle)


class _ActionSink:
    """The writer, plus the agent's line actions (transfer, DTMF) forwarded as call commands
    on ``services.bus``, where the instance holding the call's media executes them (phone
    calls; a browser call has no line to transfer)."""

    def __init__(self, services: Services, call_id: str, writer: CallRecordWriter) -> None:
        self._services = services
        self._call_id = call_id
        self._writer = writer
        self.turn = writer.turn
        self.usage = writer.usage
        self.ended = writer.ended

    def event(self, event: CallEvent) -> None:
        self._writer.event(event)
        command: CallCommand
        if event.kind == "transfer" and event.data.get("to"):
            command = Transfer(to=str(event.data["to"]), source="agent")
        elif event.kind == "dtmf" and event.data.get("digits"):
            command = SendDtmf(digits=str(event.data["digits"]), source="agent")
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
