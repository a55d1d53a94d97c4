"""Outbound phone calls and live call control: adapters for ``server.calls``.

``POST /api/v1/calls`` dials through the carrier of the chosen caller id
(``server.calls.phone.outbound``); hang-up, cold transfer and DTMF reach the call on
whichever instance holds it, else the carrier's REST API (``server.calls.control``).

Refusals: a hard-capped plan whose included minutes are used is a 402 ``quota_exceeded``;
the organization's concurrency limit or plan is a 429 ``concurrency_limit``; an
instance that is shutting down or carries ``MAX_LIVE_CALLS`` is a 503 (``draining`` /
``instance_full``) with ``Retry-After``, since another instance (or this one, shortly) can
take the call.
"""

from __future__ import annotations

import re
from typing import Literal
from uuid import UUID

import structlog
from pydantic import BaseModel, Field, field_validator

from db import carriers as carriers_db
from db import phone_numbers as numbers_db
from db.calls import CallStatus
from runtime.supported import LanguageTag
from server import audit
from server.api import ApiContext, Router
from server.calls.admission import (
    CallLimitExceeded,
    CallUnavailable,
    InstanceUnavailable,
    QuotaExceeded,
)
from server.calls.commands import CallCommand, HangUp, SendDtmf, Transfer
from server.calls.control import CallEnded, deliver
from server.calls.phone.carriers import public_base
from server.calls.phone.outbound import Dial, start_outbound_call
from server.calls.setup import language_problem
from server.errors import ApiError, conflict, not_found, unprocessable
from server.routes.carriers import carrier_failed
from telephony.contract import UnsupportedOperation
from telephony.numbers import normalize_e164

log = structlog.get_logger(__name__)
router = Router(tags=["calls"])

_DTMF = re.compile(r"^[0-9*#wW]{1,32}$")
_SIP = re.compile(r"^sips?:[^\s@]+@[^\s]+$")


def admission_error(exc: Exception, resource: str = "workflow") -> Exception:
    """The HTTP error for a call ``start_call`` refused (other exceptions are returned as
    they are, to be re-raised)."""
    if isinstance(exc, CallUnavailable):
        return not_found(resource)
    if isinstance(exc, QuotaExceeded):  # a hard-capped plan's included minutes are used
        return ApiError(402, "quota_exceeded", str(exc))
    if isinstance(exc, CallLimitExceeded):
        return ApiError(429, "concurrency_limit", "concurrent call limit reached")
    if isinstance(exc, InstanceUnavailable):
        message = ("this instance is shutting down" if exc.reason == "draining"
                   else "this instance carries all the calls it can")  # fmt: skip
        return ApiError(503, exc.reason, message + "; try again",
                        headers={"Retry-After": str(exc.retry_after)})  # fmt: skip
    return exc


class VoicemailPolicy(BaseModel):
    action: Literal["hangup", "message"] = "hangup"
    text: str | None = Field(default=None, max_length=1000, description="Message to leave")


class OutboundCallIn(BaseModel):
    to: str = Field(description="E.164 number to call")
    from_: str | None = Field(
        default=None, alias="from",
        description="Caller id: one of the organization's numbers allowed as caller id "
        "(default: the first such number)",
    )  # fmt: skip
    workflow_id: UUID
    variables: dict[str, str] = Field(default_factory=dict)
    machine_detection: bool = Field(default=False, description="Answering-machine detection")
    voicemail: VoicemailPolicy | None = Field(
        default=None, description="What to do when a machine answers (default: hang up)"
    )
    record: bool | None = Field(
        default=None, description="Record this call (default: RECORD_CALLS); true on a plan "
        "without the recording feature is a 403 feature_not_in_plan")
    language: LanguageTag | None = Field(
        default=None, description="This call's language (default: the workflow's "
        "settings.language); 422 when it is unknown or a speech provider the call would use "
        "cannot hear or speak it")

    @field_validator("to", "from_")
    @classmethod
    def _e164(cls, value: str | None) -> str | None:
        return None if value is None else normalize_e164(value)


class OutboundCallOut(BaseModel):
    id: UUID
    status: CallStatus
    carrier: str
    carrier_call_id: str
    from_number: str
    to_number: str


class TransferIn(BaseModel):
    to: str = Field(description="E.164 number or SIP URI")

    @field_validator("to")
    @classmethod
    def _target(cls, value: str) -> str:
        return value if _SIP.match(value) else normalize_e164(value)


class DtmfIn(BaseModel):
    digits: str = Field(description="0-9, *, # (w = half-second pause)")

    @field_validator("digits")
    @classmethod
    def _digits(cls, value: str) -> str:
        if not _DTMF.match(value):
            raise ValueError("digits must be 1-32 of 0-9, *, #, w")
        return value


class ControlOut(BaseModel):
    call_id: UUID
    delivered: Literal["live", "carrier"] = Field(
        description="live: the instance holding the call acted; carrier: sent via its API"
    )


@router.post("/api/v1/calls", body=OutboundCallIn, response=OutboundCallOut, status=201,
             errors=[402, 404, 429, 502, 503])
async def create_outbound_call(ctx: ApiContext) -> OutboundCallOut:
    """Place an outbound phone call answered by a workflow"""
    body: OutboundCallIn = ctx.body
    org = ctx.caller.organization_id
    if not await numbers_db.workflow_in_org(ctx.db, org, body.workflow_id):
        raise not_found("workflow")
    caller = await numbers_db.caller_id_for(ctx.db, org, body.from_)
    if caller is None:
        raise ApiError(
            422, "validation_error",
            "no phone number of this organization may be used as caller id"
            if body.from_ is None else "'from' is not a caller-id number of this organization",
            [{"pointer": "/body/from", "code": "not_caller_id",
              "message": "not a caller-id number"}],
        )  # fmt: skip
    if body.language is not None:
        await check_call_language(ctx, body.workflow_id, body.language)
    request_base = f"{ctx.request.url.scheme}://{ctx.request.url.netloc}"
    dial = Dial(
        organization_id=org, workflow_id=body.workflow_id, to_number=body.to, caller=caller,
        variables=body.variables, machine_detection=body.machine_detection,
        voicemail=body.voicemail.model_dump() if body.voicemail else None, record=body.record,
        public_base=public_base(ctx.services, request_base), language=body.language,
    )  # fmt: skip
    try:
        placed = await start_outbound_call(ctx.services, dial)
    except (CallLimitExceeded, CallUnavailable, InstanceUnavailable) as exc:
        raise admission_error(exc) from None
    except ApiError:  # the plan refused something asked for (403 feature_not_in_plan)
        raise
    except Exception as exc:  # the carrier refused or is unreachable; the row is ended
        raise carrier_failed(exc, "the carrier did not place the call") from None
    await audit.record(ctx, audit.AuditAction.CALL_PLACED, target_type="call",
                       target_id=placed.call_id,
                       details={"to": body.to, "workflow_id": body.workflow_id})
    return OutboundCallOut(
        id=placed.call_id, status=CallStatus.QUEUED, carrier=placed.carrier,
        carrier_call_id=placed.carrier_call_id, from_number=placed.from_number,
        to_number=body.to,
    )  # fmt: skip


async def check_call_language(ctx: ApiContext, workflow_id: UUID, language: str, *,
                              draft: bool = False) -> None:
    """422 at ``/body/language`` when the speech providers the call would use cannot hear
    or speak ``language`` (the message names the provider)."""
    problem = await language_problem(ctx.services, ctx.caller.organization_id, workflow_id,
                                     language, draft=draft)
    if problem is not None:
        raise unprocessable("body", "language", code="unsupported_language", message=problem)


async def _control(ctx: ApiContext, command: CallCommand) -> ControlOut:
    call_id: UUID = ctx.path["call_id"]
    call = await carriers_db.call_for_org(ctx.db, ctx.caller.organization_id, call_id)
    if call is None:
        raise not_found("call")
    try:
        delivered = await deliver(ctx.services, call, command)
    except CallEnded:
        raise conflict("the call has ended") from None
    except UnsupportedOperation as exc:
        raise ApiError(409, "unsupported", str(exc)) from None
    except Exception as exc:
        raise carrier_failed(exc, "the carrier did not carry out the command") from None
    return ControlOut(call_id=call_id, delivered=delivered)


@router.post("/api/v1/calls/{call_id:uuid}/hangup", response=ControlOut, status=202,
             errors=[409, 502])
async def hangup_call(ctx: ApiContext) -> ControlOut:
    """Hang up a live call (works from any instance)"""
    return await _control(ctx, HangUp())


@router.post("/api/v1/calls/{call_id:uuid}/transfer", body=TransferIn, response=ControlOut, status=202,
             errors=[409, 502])
async def transfer_call(ctx: ApiContext) -> ControlOut:
    """Cold-transfer a live phone call to a number or SIP URI"""
    return await _control(ctx, Transfer(to=ctx.body.to))


@router.post("/api/v1/calls/{call_id:uuid}/dtmf", body=DtmfIn, response=ControlOut, status=202,
             errors=[409, 502])
async def send_dtmf(ctx: ApiContext) -> ControlOut:
    """Send DTMF digits on a live call"""
    return await _control(ctx, SendDtmf(digits=ctx.body.digits))
