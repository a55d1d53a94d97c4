"""The voice webhook: a call to one of our numbers (or one of our own outbound calls asking
for its stream, e.g. Exotel's Voicebot applet).

Steps: parse the webhook (400 when malformed) → a call we already know? (answer it again,
once verified, unless its stream connected) → resolve the number to its organization,
workflow and carrier account (one query) → verify the webhook against that account →
admit the call (instance, plan, concurrency, workflow) → markup connecting the media
websocket with a single-use stream token. An unknown number and an unverified webhook get
the same reply (``REFUSED``); a call that cannot be taken gets the carrier's reject markup.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from uuid import UUID

import structlog

from db import carriers as carriers_db
from db import phone_numbers as numbers_db
from db.carriers import CarrierCall
from server.calls.admission import (
    CallLimitExceeded,
    CallUnavailable,
    InstanceUnavailable,
    NewCall,
    QuotaExceeded,
    start_call,
)
from server.calls.phone.carriers import provider_for
from server.calls.phone.streams import stream_markup
from server.calls.phone.webhooks import REFUSED, CarrierWebhook, WebhookReply, verified
from telephony.contract import InboundCall, WebhookRejected
from telephony.numbers import normalize_e164

if TYPE_CHECKING:
    from server.services import Services

log = structlog.get_logger(__name__)


class CallRejected(Exception):
    """The call cannot be taken; ``markup_reason`` picks the carrier's reject markup."""

    def __init__(self, reason: str, markup_reason: str = "rejected") -> None:
        super().__init__(reason)
        self.reason = reason
        self.markup_reason = markup_reason


async def voice_webhook(services: Services, hook: CarrierWebhook) -> WebhookReply:
    parser = provider_for(services, hook.carrier, None)
    try:
        inbound = parser.parse_inbound(hook.body, hook.headers)
    except WebhookRejected as exc:
        log.warning("telephony_webhook_malformed", carrier=hook.carrier, error=str(exc))
        return WebhookReply(400)
    existing = await carriers_db.find_call_by_carrier_id(services.db, hook.carrier, inbound.carrier_call_id)
    if existing is not None:
        return await _answer_existing(services, hook, existing)
    try:
        to_number = normalize_e164(inbound.to_number)
    except ValueError:
        log.warning("telephony_unknown_number", carrier=hook.carrier, to=inbound.to_number[:32])
        return REFUSED
    number = await numbers_db.resolve_inbound(services.db, hook.carrier, to_number)
    if number is None:
        log.warning("telephony_unknown_number", carrier=hook.carrier, to=to_number)
        return REFUSED
    provider = provider_for(services, hook.carrier, number["credentials"])
    if not await verified(services, hook, provider):
        return REFUSED
    try:
        call_id = await admit_inbound(services, hook.carrier, number, inbound, to_number)
    except CallRejected as exc:
        log.warning(
            "telephony_call_rejected", carrier=hook.carrier, reason=exc.reason, to=to_number,
            organization_id=str(number["organization_id"]),
        )  # fmt: skip
        return WebhookReply.markup(provider.reject_markup(exc.markup_reason))
    log.info("telephony_inbound_call", carrier=hook.carrier, call_id=str(call_id))
    return await stream_markup(services, hook, provider, number["organization_id"], call_id)


async def _answer_existing(services: Services, hook: CarrierWebhook, call: CarrierCall) -> WebhookReply:
    """A retried webhook, or one of our outbound calls fetching its stream: a fresh token
    (replacing earlier ones) while the call has no stream; nothing once it has one."""
    provider = provider_for(services, hook.carrier, call.credentials)
    if not await verified(services, hook, provider):
        return REFUSED
    if call.ended or call.stream_connected_at is not None:
        log.warning("telephony_duplicate_webhook", carrier=hook.carrier, call_id=str(call.id))
        return WebhookReply.markup(provider.reject_markup("rejected"))
    return await stream_markup(services, hook, provider, call.organization_id, call.id, expire=False)


async def admit_inbound(services: Services, carrier: str, number: Any, inbound: InboundCall,
                        to_number: str) -> UUID:  # fmt: skip
    """Admit an inbound call to ``number`` (a ``resolve_inbound`` row): limits, call row."""
    if number["workflow_id"] is None:
        raise CallRejected("number_has_no_workflow", "unavailable")
    new = NewCall(
        organization_id=number["organization_id"], workflow_id=number["workflow_id"],
        channel=carrier, direction="inbound", from_number=inbound.from_number or None,
        to_number=to_number, carrier=carrier, carrier_call_id=inbound.carrier_call_id,
        connect_within_seconds=services.settings.stream_token_ttl_seconds + 5,
    )  # fmt: skip
    try:
        handle = await start_call(services, new)
    except InstanceUnavailable as exc:
        raise CallRejected(exc.reason, "busy") from exc  # full or draining: busy markup
    except QuotaExceeded as exc:  # a hard-capped plan's minutes are used: reject, not busy
        raise CallRejected("quota_exceeded", "rejected") from exc
    except CallLimitExceeded as exc:
        raise CallRejected("concurrency_limit", "busy") from exc
    except CallUnavailable as exc:
        raise CallRejected("workflow_unavailable", "unavailable") from exc
    await carriers_db.attach_carrier(
        services.db, number["organization_id"], handle.call_id, carrier=carrier,
        carrier_account_id=number["carrier_account_id"], carrier_call_id=inbound.carrier_call_id,
    )  # fmt: skip
    return handle.call_id
