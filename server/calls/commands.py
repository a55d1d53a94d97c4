"""Commands that reach a call wherever it lives, and the one dispatcher that executes them.

A command is published on the control bus (``server.coordination``) under the call's id;
the instance holding the call's media receives it and runs it against its ``CallTarget``:
a live phone call (pipeline + the carrier's REST API), a browser call (pipeline only) or,
when no instance holds the call, the carrier leg alone (REST). Every command is one pydantic
model with a ``type`` discriminator; ``COMMANDS`` is the one adapter that serializes them
for the bus.
"""

from __future__ import annotations

from typing import Annotated, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from db.calls import CallStatus
from pipeline.events import EndReason


class _Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class HangUp(_Command):
    type: Literal["hangup"] = "hangup"
    reason: EndReason = EndReason.ENDED_BY_API


class Transfer(_Command):
    type: Literal["transfer"] = "transfer"
    to: str = Field(min_length=1, max_length=300, description="E.164 number or SIP URI")
    source: Literal["api", "agent"] = "api"


class SendDtmf(_Command):
    type: Literal["dtmf"] = "dtmf"
    digits: str = Field(min_length=1, max_length=64)
    source: Literal["api", "agent"] = "api"


class LeaveVoicemail(_Command):
    """A machine answered: speak ``text`` on the line (carrier REST), then end the call."""

    type: Literal["voicemail_message"] = "voicemail_message"
    text: str = Field(min_length=1, max_length=1000)


class CarrierEnded(_Command):
    """The carrier reported the call over (a final status callback)."""

    type: Literal["carrier_status"] = "carrier_status"
    status: CallStatus


CallCommand = Annotated[
    HangUp | Transfer | SendDtmf | LeaveVoicemail | CarrierEnded, Field(discriminator="type")
]
COMMANDS: TypeAdapter[CallCommand] = TypeAdapter(CallCommand)


class CallTarget(Protocol):
    """What a command acts on. A target raises ``telephony.contract.UnsupportedOperation``
    for what it cannot do (a browser has no line to transfer)."""

    async def hang_up(self, reason: EndReason) -> None: ...

    async def transfer(self, to: str) -> None: ...

    async def send_dtmf(self, digits: str) -> None: ...

    async def leave_voicemail(self, text: str) -> None: ...

    async def carrier_ended(self, status: CallStatus) -> None: ...


async def dispatch(command: CallCommand, target: CallTarget) -> None:
    """Run ``command`` on ``target``: the one place a command type becomes an action."""
    match command:
        case HangUp(reason=reason):
            await target.hang_up(reason)
        case Transfer(to=to):
            await target.transfer(to)
        case SendDtmf(digits=digits):
            await target.send_dtmf(digits)
        case LeaveVoicemail(text=text):
            await target.leave_voicemail(text)
        case CarrierEnded(status=status):
            await target.carrier_ended(status)
