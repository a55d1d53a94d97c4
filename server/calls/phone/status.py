"""Status callbacks (``/telephony/{carrier}/status?call=<id>``): call progress, final
statuses and answering-machine results.

A callback is bound to its call: the carrier call id in the body must be the call's (a
signed callback for one call, replayed against another call's URL, changes nothing; so
does a callback arriving before the dial returned the carrier's call id, unless the call's
dial is in doubt and the callback proves it is this call's: ``adopt_carrier_call``).
Progress never moves a call backwards; a final status ends a call that never connected its
media (a live stream is ended through the control bus and finalizes its own row); a machine
answer applies the voicemail policy.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

import structlog

from db.calls import CallStatus
from db.carriers import CarrierCall
from pipeline.events import EndReason
from server.calls.admission import end_call, pinned_definition, update_status
from server.calls.commands import CallCommand, CarrierEnded, HangUp, LeaveVoicemail, dispatch
from server.calls.control import CarrierLeg
from server.calls.phone.outbound import adopt_carrier_call
from server.calls.phone.webhooks import NO_CONTENT, CarrierWebhook, WebhookReply, callback_call
from telephony.contract import CarrierProvider, StatusUpdate, UnsupportedOperation, WebhookRejected

if TYPE_CHECKING:
    from server.services import Services

log = structlog.get_logger(__name__)


async def status_webhook(services: Services, hook: CarrierWebhook) -> WebhookReply:
    found = await callback_call(services, hook)
    if isinstance(found, WebhookReply):
        return found
    call, provider = found
    try:
        update = provider.parse_status(hook.body, hook.headers)
        status = CallStatus(update.status)
    except (WebhookRejected, ValueError) as exc:
        log.info("telephony_status_ignored", carrier=hook.carrier, detail=str(exc))
        return NO_CONTENT
    if not call.carrier_call_id:  # an in-doubt dial's call, when the callback proves it
        call = await adopt_carrier_call(services, call, provider, update) or call
    if not call.carrier_call_id or update.carrier_call_id != call.carrier_call_id:
        log.warning("telephony_status_for_another_call", carrier=hook.carrier, call_id=str(call.id))
        return NO_CONTENT
    await apply_status(services, call, provider, status, update)
    return NO_CONTENT


def moves_forward(current: CallStatus, new: CallStatus) -> bool:
    """Whether a progress update may replace ``current``: never backwards, never after the end."""
    return not current.terminal and new.rank > current.rank


async def apply_status(services: Services, call: CarrierCall, provider: CarrierProvider,
                       status: CallStatus, update: StatusUpdate) -> None:  # fmt: skip
    if update.answered_by == "machine" and not await _voicemail(services, call, provider):
        # no live stream to end with this reason (its media never connected): the row
        # records the machine answer itself (a campaign reads it as the outcome)
        await end_call(services, call.id, EndReason.VOICEMAIL, CallStatus.COMPLETED)
        return
    if status.terminal:
        # a live media stream finalizes its own row when the carrier closes it; a call that
        # never connected (busy, no answer, failed) is ended here
        if await services.bus.publish(str(call.id), CarrierEnded(status=status)) == 0:
            await end_call(services, call.id, EndReason.of(status, EndReason.COMPLETED), status)
        return
    if moves_forward(call.status, status):
        await update_status(services, call.id, status)


async def _voicemail(services: Services, call: CarrierCall, provider: CarrierProvider) -> bool:
    """Apply the voicemail policy; whether a live stream took the command."""
    policy = call.metadata.get("voicemail") or await _workflow_voicemail(services, call)
    log.info("telephony_answering_machine", call_id=str(call.id), action=policy.get("action"))
    command: CallCommand = HangUp(reason=EndReason.VOICEMAIL)
    if policy.get("action") == "message" and policy.get("text"):
        command = LeaveVoicemail(text=str(policy["text"])[:1000])
    # the instance holding the stream stops its pipeline; the carrier leg is driven by REST
    delivered = await services.bus.publish(str(call.id), command)
    if call.carrier_call_id:
        leg = CarrierLeg(provider, call.carrier_call_id)
        try:
            await dispatch(command, leg)
        except UnsupportedOperation:
            if isinstance(command, LeaveVoicemail):  # the carrier cannot speak one: hang up
                with contextlib.suppress(UnsupportedOperation):
                    await leg.hang_up(EndReason.VOICEMAIL)
    return delivered > 0


async def _workflow_voicemail(services: Services, call: CarrierCall) -> dict[str, Any]:
    """The pinned workflow's ``settings.voicemail`` policy, else hang up."""
    definition: dict[str, Any] = {}
    if call.workflow_id is not None:
        definition = await pinned_definition(services, call.organization_id, call.workflow_id,
                                             call.workflow_version) or {}  # fmt: skip
    policy = (definition.get("settings") or {}).get("voicemail")
    return policy if isinstance(policy, dict) else {"action": "hangup"}
