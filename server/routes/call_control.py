"""Outbound phone calls and live call control: ``POST /api/v1/calls`` dials through the
carrier of the chosen caller id; hang-up, cold transfer and DTMF reach the call on whichever
instance holds it (``services.bus``), falling back to the carrier's REST API."""

from __future__ import annotations

import re
from typing import Any, Literal
from uuid import UUID

import structlog
from pydantic import BaseModel, Field, field_validator

from db import carriers as carriers_db
from db import phone_numbers as numbers_db
from server import carrier_calls
from server.api import ApiContext, Router
from server.calls import CallLimitExceeded
from server.errors import ApiError, conflict, not_found
from server.telephony_calls import start_outbound_call
from telephony.contract import UnsupportedOperation
from telephony.numbers import normalize_e164

log = structlog.get_logger(__name__)
router = Router(tags=["calls"])

_DTMF = re.compile(r"^[0-9*#wW]{1,32}$")
_SIP = re.compile(r"^sips?:[^\s@]+@[^\s]+$")


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

    @field_validator("to", "from_")
    @classmethod
    def _e164(cls, value: str | None) -> str | None:
        return None if value is None else normalize_e164(value)


class OutboundCallOut(BaseModel):
    id: UUID
    status: str
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


@router.post("/api/v1/calls", body=OutboundCallIn, response=OutboundCallOut, status=201)
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
    if ctx.services.state.get("draining"):
        raise ApiError(503, "draining", "this instance is shutting down")
    try:
        placed = await start_outbound_call(
            ctx.services,
            organization_id=org,
            workflow_id=body.workflow_id,
            to_number=body.to,
            caller=caller,
            variables=body.variables,
            machine_detection=body.machine_detection,
            voicemail=body.voicemail.model_dump() if body.voicemail else None,
            public_base=carrier_calls.public_base(ctx.services, ctx.request),
        )
    except CallLimitExceeded:
        raise ApiError(429, "concurrency_limit", "concurrent call limit reached") from None
    except Exception as exc:  # the carrier refused or is unreachable; the row is ended
        raise ApiError(502, "carrier_error", f"the carrier refused the call: {exc}") from None
    return OutboundCallOut(
        id=placed.call_id, status="queued", carrier=placed.carrier,
        carrier_call_id=placed.carrier_call_id, from_number=placed.from_number,
        to_number=body.to,
    )  # fmt: skip


async def _control(ctx: ApiContext, command: dict[str, Any]) -> ControlOut:
    call_id: UUID = ctx.path["call_id"]
    call = await carriers_db.call_for_org(ctx.db, ctx.caller.organization_id, call_id)
    if call is None:
        raise not_found("call")
    if call["ended_at"] is not None or call["status"] in carrier_calls.TERMINAL_STATUSES:
        raise conflict("the call has ended")
    try:
        delivered = await carrier_calls.control_call(
            ctx.services,
            call_id=call_id,
            carrier=call["carrier"],
            carrier_call_id=call["carrier_call_id"],
            encrypted_credentials=call["credentials"],
            command=command,
        )
    except UnsupportedOperation as exc:
        raise ApiError(409, "unsupported", str(exc)) from None
    except Exception as exc:
        log.warning("call_control_failed", call_id=str(call_id), error=str(exc))
        raise ApiError(502, "carrier_error", f"the carrier refused: {exc}") from None
    return ControlOut(call_id=call_id, delivered=delivered)  # type: ignore[arg-type]


@router.post("/api/v1/calls/{call_id:uuid}/hangup", response=ControlOut, status=202)
async def hangup_call(ctx: ApiContext) -> ControlOut:
    """Hang up a live call (works from any instance)"""
    return await _control(ctx, {"type": "hangup", "reason": "ended_by_api"})


@router.post("/api/v1/calls/{call_id:uuid}/transfer", body=TransferIn, response=ControlOut, status=202)
async def transfer_call(ctx: ApiContext) -> ControlOut:
    """Cold-transfer a live phone call to a number or SIP URI"""
    return await _control(ctx, {"type": "transfer", "to": ctx.body.to})


@router.post("/api/v1/calls/{call_id:uuid}/dtmf", body=DtmfIn, response=ControlOut, status=202)
async def send_dtmf(ctx: ApiContext) -> ControlOut:
    """Send DTMF digits on a live call"""
    return await _control(ctx, {"type": "dtmf", "digits": ctx.body.digits})
