"""Outbound phone calls: admission, the row, the carrier's REST dial; the answer webhook
that connects an answered call to its media stream; expiry of calls whose media never
connects."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any
from uuid import UUID

import structlog

from db import carriers as carriers_db
from db.carriers import CarrierCall
from pipeline.events import EndReason
from server.calls.admission import NewCall, end_call, start_call
from server.calls.phone.carriers import (
    answer_url,
    provider_for,
    status_url,
    stream_url,
)
from server.calls.phone.streams import expire_unconnected, mint_stream_token, stream_markup
from server.calls.phone.webhooks import CarrierWebhook, WebhookReply, callback_call
from telephony.contract import CarrierApiError, CarrierProvider, DialRequest, StatusUpdate

if TYPE_CHECKING:
    from server.services import Services

log = structlog.get_logger(__name__)


class DialInDoubt(Exception):
    """The carrier did not answer a dial sent with an idempotency key: it may or may not have
    placed the call. The call row stays open; send the same key again to find out."""


@dataclass(frozen=True, slots=True)
class OutboundCall:
    call_id: UUID
    carrier: str
    carrier_call_id: str
    from_number: str


@dataclass(frozen=True, slots=True)
class Dial:
    organization_id: UUID
    workflow_id: UUID
    to_number: str
    caller: Any  # a db.phone_numbers.caller_id_for row: number, carrier, account, credentials
    variables: dict[str, str]
    machine_detection: bool
    voicemail: dict[str, Any] | None
    public_base: str
    record: bool | None = None  # None: RECORD_CALLS (within the plan)
    language: str | None = None  # None: the workflow's settings.language
    # a campaign attempt's key: sent with the dial, kept in the call's metadata (callbacks
    # echoing it prove the carrier's call is this one: ``adopt_carrier_call``)
    idempotency_key: str | None = None


async def start_outbound_call(services: Services, dial: Dial) -> OutboundCall:
    """Create the call row (limits checked) and dial through the caller id's carrier.

    Raises what ``start_call`` raises (nothing is dialed then), or the carrier's error (the
    row is ended as ``dial_failed``)."""
    call_id = await admit_outbound(services, dial)
    return await dial_admitted(services, dial, call_id)


async def admit_outbound(services: Services, dial: Dial, call_id: UUID | None = None) -> UUID:
    """Admission and the call row (``call_id`` when the caller chose it first, as a campaign
    attempt does), with its carrier account attached; nothing is dialed yet."""
    carrier = str(dial.caller["carrier"])
    ttl = services.settings.outbound_stream_token_ttl_seconds
    metadata: dict[str, Any] = {"machine_detection": dial.machine_detection}
    if dial.voicemail:
        metadata["voicemail"] = dial.voicemail
    if dial.idempotency_key:
        metadata["idempotency_key"] = dial.idempotency_key
    handle = await start_call(services, NewCall(
        organization_id=dial.organization_id, workflow_id=dial.workflow_id, channel=carrier,
        direction="outbound", from_number=dial.caller["number"], to_number=dial.to_number,
        variables=dial.variables, carrier=carrier, metadata=metadata,
        connect_within_seconds=ttl + 5, call_id=call_id, record=dial.record,
        language=dial.language,
    ))  # fmt: skip
    account = dial.caller["carrier_account_id"]
    await carriers_db.attach_carrier(services.db, dial.organization_id, handle.call_id,
                                     carrier=carrier, carrier_account_id=account,
                                     carrier_call_id=None)  # fmt: skip
    return handle.call_id


async def dial_admitted(services: Services, dial: Dial, call_id: UUID,
                        idempotency_key: str | None = None) -> OutboundCall:  # fmt: skip
    """Ask the carrier to dial the admitted call ``call_id``. Sent again with the same
    ``idempotency_key`` (a campaign attempt recovered after a crash), a carrier that honours
    the key answers with the call it placed the first time."""
    carrier = str(dial.caller["carrier"])
    provider = provider_for(services, carrier, dial.caller["credentials"])
    ttl = services.settings.outbound_stream_token_ttl_seconds
    account = dial.caller["carrier_account_id"]
    stream = None
    if provider.streams_on_dial:  # the media URL (and its token) travel in the dial request
        token = await mint_stream_token(services, dial.organization_id, call_id, ttl)
        stream = f"{stream_url(dial.public_base, carrier)}?token={token}"
    request = DialRequest(
        to_number=dial.to_number, from_number=dial.caller["number"],
        answer_url=answer_url(dial.public_base, carrier, call_id),
        status_url=status_url(dial.public_base, carrier, call_id),
        stream_url=stream, machine_detection=dial.machine_detection,
        idempotency_key=idempotency_key,
    )  # fmt: skip
    try:
        carrier_call_id = await provider.dial(request)
    except CarrierApiError as exc:
        if exc.code == "carrier_unreachable" and idempotency_key:
            # no answer: the carrier may have placed the call. The row stays; the same key
            # is sent again later (a carrier that honours it places the call at most once)
            log.warning("telephony_dial_in_doubt", carrier=carrier, call_id=str(call_id))
            raise DialInDoubt(str(call_id)) from exc
        log.warning("telephony_dial_failed", carrier=carrier, call_id=str(call_id), error=str(exc))
        await end_call(services, call_id, EndReason.DIAL_FAILED)
        raise
    except Exception as exc:
        log.warning("telephony_dial_failed", carrier=carrier, call_id=str(call_id), error=str(exc))
        await end_call(services, call_id, EndReason.DIAL_FAILED)
        raise
    await carriers_db.attach_carrier(services.db, dial.organization_id, call_id, carrier=carrier,
                                     carrier_account_id=account, carrier_call_id=carrier_call_id)  # fmt: skip
    # a call whose media never connects (lost callbacks) is ended once no token can be valid
    services.spawn(expire_unconnected(services, call_id, ttl + 5), name=f"expire-{call_id}")
    log.info("telephony_outbound_call", carrier=carrier, call_id=str(call_id))
    return OutboundCall(call_id, carrier, carrier_call_id, dial.caller["number"])


def dial_replays(services: Services, dial: Dial) -> bool:
    """Whether the caller id's carrier answers a dial re-sent with the same idempotency key
    with the call the first one placed (else a re-send could place a second call)."""
    carrier = str(dial.caller["carrier"])
    return provider_for(services, carrier, dial.caller["credentials"]).dial_replays


def proves_dial(provider: CarrierProvider, call: CarrierCall, update: StatusUpdate) -> bool:
    """Whether a verified callback on ``call``'s URL is about the call its keyed dial placed:
    the carrier signs the URL naming the call, or the callback echoes the dial's key (a
    signed callback of another call, replayed to this URL, echoes another key)."""
    key = call.metadata.get("idempotency_key")
    if not key or call.direction != "outbound" or not update.carrier_call_id:
        return False
    return provider.signature_binds_url or update.echoed_key == key


async def adopt_carrier_call(services: Services, call: CarrierCall, provider: CarrierProvider,
                             update: StatusUpdate) -> CarrierCall | None:  # fmt: skip
    """A callback for a keyed outbound call whose dial answer never reached us (in doubt:
    the dialer crashed or timed out): the carrier's call is this one when the callback
    proves it (its signature covers our URL naming the call, or it echoes the dial's key).
    The carrier call id is stored and the call returned with it; None when unproven."""
    if not proves_dial(provider, call, update) or call.carrier is None or call.carrier_account_id is None:
        return None
    await carriers_db.attach_carrier(services.db, call.organization_id, call.id, carrier=call.carrier,
                                     carrier_account_id=call.carrier_account_id,
                                     carrier_call_id=update.carrier_call_id)  # fmt: skip
    log.info("telephony_in_doubt_call_adopted", carrier=call.carrier, call_id=str(call.id))
    return replace(call, carrier_call_id=update.carrier_call_id)


async def answer_webhook(services: Services, hook: CarrierWebhook) -> WebhookReply:
    """``/telephony/{carrier}/answer?call=<id>``: the outbound call was answered; markup
    connecting it to its media stream, unless it ended or its stream already connected (a
    replayed answer webhook mints nothing)."""
    found = await callback_call(services, hook)
    if isinstance(found, WebhookReply):
        return found
    call, provider = found
    if call.ended or call.stream_connected_at is not None:
        log.warning("telephony_duplicate_answer", carrier=hook.carrier, call_id=str(call.id))
        return WebhookReply.markup(provider.reject_markup("rejected"))
    return await stream_markup(services, hook, provider, call.organization_id, call.id)
