"""Phone-call lifecycle on top of ``server.calls``: inbound admission, outbound dialing,
status callbacks (incl. the answering-machine voicemail policy)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import structlog

from db import carriers as carriers_db
from server import carrier_calls
from server.calls import (
    CallLimitExceeded,
    CallUnavailable,
    NewCall,
    end_call,
    load_call,
    start_call,
    update_status,
)
from server.services import Services
from telephony.contract import (
    CarrierProvider,
    DialRequest,
    InboundCall,
    StatusUpdate,
    UnsupportedOperation,
)

log = structlog.get_logger(__name__)


class CallRejected(Exception):
    """The call cannot be taken; ``markup_reason`` picks the carrier's reject markup."""

    def __init__(self, reason: str, markup_reason: str = "rejected") -> None:
        super().__init__(reason)
        self.reason = reason
        self.markup_reason = markup_reason


async def start_inbound_call(
    services: Services, carrier: str, number: Any, inbound: InboundCall, to_number: str
) -> UUID:
    """Admit an inbound call to ``number`` (a ``resolve_inbound`` row): limits, call row."""
    if services.state.get("draining"):
        raise CallRejected("draining", "unavailable")
    if number["workflow_id"] is None:
        raise CallRejected("number_has_no_workflow", "unavailable")
    try:
        handle = await start_call(
            services,
            NewCall(
                organization_id=number["organization_id"],
                workflow_id=number["workflow_id"],
                channel=carrier,
                direction="inbound",
                from_number=inbound.from_number or None,
                to_number=to_number,
                carrier=carrier,
                carrier_call_id=inbound.carrier_call_id,
            ),
        )
    except CallLimitExceeded as exc:
        raise CallRejected("concurrency_limit", "busy") from exc
    except CallUnavailable as exc:
        raise CallRejected("workflow_unavailable", "unavailable") from exc
    await carriers_db.attach_carrier(
        services.db,
        number["organization_id"],
        handle.call_id,
        carrier=carrier,
        carrier_account_id=number["carrier_account_id"],
        carrier_call_id=inbound.carrier_call_id,
    )
    return handle.call_id


@dataclass(frozen=True, slots=True)
class OutboundCall:
    call_id: UUID
    carrier: str
    carrier_call_id: str
    from_number: str


async def start_outbound_call(
    services: Services,
    *,
    organization_id: UUID,
    workflow_id: UUID,
    to_number: str,
    caller: Any,
    variables: dict[str, str],
    machine_detection: bool,
    voicemail: dict[str, Any] | None,
    public_base: str,
) -> OutboundCall:
    """Create the call row (limits checked) and dial through the caller id's carrier."""
    carrier = caller["carrier"]
    metadata = {"machine_detection": machine_detection}
    if voicemail:
        metadata["voicemail"] = voicemail
    handle = await start_call(
        services,
        NewCall(
            organization_id=organization_id,
            workflow_id=workflow_id,
            channel=carrier,
            direction="outbound",
            from_number=caller["number"],
            to_number=to_number,
            variables=variables,
            carrier=carrier,
            metadata=metadata,
        ),
    )  # raises CallLimitExceeded
    call_id = handle.call_id
    await carriers_db.attach_carrier(
        services.db, organization_id, call_id,
        carrier=carrier, carrier_account_id=caller["carrier_account_id"], carrier_call_id=None,
    )  # fmt: skip
    provider = carrier_calls.provider_for(services, carrier, caller["credentials"])
    stream = None
    if carrier == "telnyx":  # Telnyx streams straight from the dial request
        token = await carrier_calls.mint_stream_token(
            services, organization_id, call_id,
            services.settings.outbound_stream_token_ttl_seconds,
        )  # fmt: skip
        ws_base = ("wss" if public_base.startswith("https") else "ws") + public_base[public_base.index(":") :]
        stream = f"{ws_base}/telephony/{carrier}/stream?token={token}"
    request = DialRequest(
        to_number=to_number,
        from_number=caller["number"],
        answer_url=f"{public_base}/telephony/{carrier}/answer?call={call_id}",
        status_url=f"{public_base}/telephony/{carrier}/status?call={call_id}",
        stream_url=stream,
        machine_detection=machine_detection,
    )
    try:
        carrier_call_id = await provider.dial(request)
    except Exception as exc:
        log.warning("telephony_dial_failed", carrier=carrier, call_id=str(call_id), error=str(exc))
        await end_call(services, call_id, "dial_failed")
        raise
    await carriers_db.attach_carrier(
        services.db, organization_id, call_id,
        carrier=carrier, carrier_account_id=caller["carrier_account_id"],
        carrier_call_id=carrier_call_id,
    )  # fmt: skip
    # a call whose media never connects (lost callbacks) is ended once no token can be valid
    ttl = services.settings.outbound_stream_token_ttl_seconds
    services.spawn(expire_unconnected(services, call_id, ttl + 5), name=f"expire-{call_id}")
    log.info("telephony_outbound_call", carrier=carrier, call_id=str(call_id))
    return OutboundCall(call_id, carrier, carrier_call_id, caller["number"])


async def apply_status(
    services: Services, call: Any, provider: CarrierProvider, update: StatusUpdate
) -> None:
    """Record a status callback; apply the voicemail policy on a machine answer; finalize
    calls that end without ever connecting their media stream."""
    call_id: UUID = call["id"]
    if update.answered_by == "machine":
        await _voicemail(services, call, provider)
    if update.status in carrier_calls.TERMINAL_STATUSES:
        # a live media stream finalizes its own row when the carrier closes it; a call that
        # never connected (busy, no answer, failed) is ended here
        if await services.bus.publish(str(call_id), {"type": "carrier_status",
                                                     "status": update.status}) == 0:  # fmt: skip
            await end_call(services, call_id, update.status)
        return
    if _RANK.get(update.status, 0) > _RANK.get(call["status"], 0):  # never move backwards
        await update_status(services, call_id, update.status)


_RANK = {"queued": 1, "ringing": 2, "in-progress": 3}


async def expire_unconnected(services: Services, call_id: UUID, after_seconds: float) -> None:
    """End a call whose media stream never connected (its stream token expired): releases
    the concurrency slot and finalizes the row. A connected call is left alone."""
    await asyncio.sleep(after_seconds)
    if not await carriers_db.call_connected(services.db, call_id):
        log.warning("telephony_stream_never_connected", call_id=str(call_id))
        await end_call(services, call_id, "canceled")


async def _voicemail(services: Services, call: Any, provider: CarrierProvider) -> None:
    policy = (call["metadata"] or {}).get("voicemail") or await _workflow_voicemail(services, call["id"])
    carrier_call_id = call["carrier_call_id"]
    log.info("telephony_answering_machine", call_id=str(call["id"]), action=policy.get("action"))
    if policy.get("action") == "message" and policy.get("text"):
        command = {"type": "voicemail_message", "text": str(policy["text"])}
    else:
        command = {"type": "hangup", "reason": "voicemail"}
    # the instance holding the stream stops its pipeline; the carrier leg is driven by REST
    await services.bus.publish(str(call["id"]), command)
    if carrier_call_id:
        try:
            await carrier_calls.execute_on_carrier(provider, carrier_call_id, command)
        except UnsupportedOperation:  # the carrier cannot speak a message: hang up
            await provider.hangup(carrier_call_id)


async def _workflow_voicemail(services: Services, call_id: UUID) -> dict[str, Any]:
    """The pinned workflow's ``settings.voicemail`` policy, else hang up."""
    try:
        definition = (await load_call(services, call_id)).definition or {}
    except CallUnavailable:
        definition = {}
    policy = (definition.get("settings") or {}).get("voicemail")
    return policy if isinstance(policy, dict) else {"action": "hangup"}
