"""One attempt's dial, through the same admission, row and carrier request as any outbound
call (``server/calls/phone/outbound.py``), carrying the attempt's idempotency key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from uuid import UUID

import asyncpg
import structlog

from db import calls as calls_db
from db import campaigns as campaigns_db
from db import phone_numbers as numbers_db
from server.calls.admission import CallLimitExceeded, CallUnavailable, InstanceUnavailable
from server.calls.phone.outbound import Dial, DialInDoubt, admit_outbound, dial_admitted, dial_replays
from server.calls.phone.streams import expire_unconnected
from server.campaigns.models import CampaignConfig

if TYPE_CHECKING:
    from server.services import Services

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Attempt:
    id: UUID
    contact_id: UUID
    number: int
    idempotency_key: str
    call_id: UUID
    caller_id: str
    phone_number: str
    variables: dict[str, str]


async def _dial_of(services: Services, campaign: Any, config: CampaignConfig,
                   attempt: Attempt) -> Dial | None:  # fmt: skip
    caller = await numbers_db.caller_id_for(services.db, campaign["organization_id"],
                                            attempt.caller_id)  # fmt: skip
    if caller is None:
        return None
    voicemail = config.voicemail
    return Dial(
        organization_id=campaign["organization_id"], workflow_id=campaign["workflow_id"],
        to_number=attempt.phone_number, caller=caller,
        variables={**config.variables, **attempt.variables},
        machine_detection=voicemail.detect,
        voicemail={"action": voicemail.action, "text": voicemail.text} if voicemail.detect else None,
        public_base=config.public_base or services.settings.public_base_url(""),
        idempotency_key=attempt.idempotency_key,
    )  # fmt: skip


async def dial(services: Services, campaign: Any, config: CampaignConfig,
               attempt: Attempt) -> bool:  # fmt: skip
    """Admit and dial a new attempt; True when admission refused it (nothing was dialed:
    the caller withdraws the attempt and the contact waits)."""
    org = campaign["organization_id"]
    request = await _dial_of(services, campaign, config, attempt)
    if request is None:  # its caller id is no longer the organization's
        await campaigns_db.end_attempt(services.db, org, attempt.id, "failed")
        return False
    try:
        call_id = await admit_outbound(services, request, attempt.call_id)
    except (CallLimitExceeded, InstanceUnavailable, CallUnavailable) as exc:
        log.info("campaign_attempt_refused", campaign_id=str(campaign["id"]), reason=str(exc))
        return True
    await campaigns_db.link_call(services.db, org, call_id, campaign["id"], attempt.contact_id)
    await _send(services, org, request, attempt)
    return False


async def resend(services: Services, campaign: Any, config: CampaignConfig,
                 row: Any) -> bool:  # fmt: skip
    """An attempt left ``dialing`` by a dialer that died (or whose dial got no answer): in
    doubt. A carrier that replays keyed dials gets the request again with the SAME key (it
    answers with the call the first request placed, if it got that far); with any other
    carrier it is never sent again: the attempt waits for the call's callbacks
    (``adopt_carrier_call``), and a call no callback claims ends when its stream token
    expires. True when it had died before admission and admission now refuses it."""
    attempt = Attempt(row["id"], row["contact_id"], row["attempt"], row["idempotency_key"],
                      row["call_id"], row["caller_id"], row["phone_number"],
                      dict(row["variables"] or {}))  # fmt: skip
    org = campaign["organization_id"]
    call = await calls_db.get_by_id(services.db, attempt.call_id)
    if call is None:  # it died before admission: this is the first send
        try:
            return await dial(services, campaign, config, attempt)
        except asyncpg.UniqueViolationError:  # its dialer is alive, just slow: it goes on
            log.info("campaign_attempt_still_dialing", attempt_id=str(attempt.id))
            return False
    if call.ended_at is not None:
        return False  # the tick settles it from the call row
    request = await _dial_of(services, campaign, config, attempt)
    if request is None:
        await campaigns_db.end_attempt(services.db, org, attempt.id, "failed")
        return False
    # this instance carries the call from now on: its place and the organization's slot
    ttl = services.settings.outbound_stream_token_ttl_seconds
    services.live_calls.reserve(str(call.id), ttl + 5)
    # the slot admission gave it died with its instance: take it again, whatever the count
    # (the call may already be ringing; refusing it now would not un-dial it)
    await services.limiter.acquire(str(org), str(call.id), 1_000_000)
    await campaigns_db.link_call(services.db, org, call.id, campaign["id"], attempt.contact_id)
    if dial_replays(services, request):
        log.warning("campaign_attempt_resent", campaign_id=str(campaign["id"]),
                    attempt_id=str(attempt.id))  # fmt: skip
        await _send(services, org, request, attempt)
        return False
    log.warning("campaign_attempt_in_doubt", campaign_id=str(campaign["id"]),
                attempt_id=str(attempt.id))  # fmt: skip
    await campaigns_db.mark_dialed(services.db, org, attempt.id, None)  # the outcome: the call row
    services.spawn(expire_unconnected(services, call.id, ttl + 5), name=f"expire-{call.id}")
    return False


async def _send(services: Services, org: UUID, request: Dial, attempt: Attempt) -> None:
    try:
        placed = await dial_admitted(services, request, attempt.call_id, attempt.idempotency_key)
    except DialInDoubt:  # no answer: the attempt stays ``dialing``, re-sent after its lease
        log.warning("campaign_dial_in_doubt", attempt_id=str(attempt.id))
        return
    except Exception as exc:  # noqa: BLE001 - the carrier refused: the row ended as dial_failed
        log.warning("campaign_dial_failed", attempt_id=str(attempt.id), error=str(exc)[:200])
        return
    await campaigns_db.mark_dialed(services.db, org, attempt.id, placed.carrier_call_id)
