"""Telnyx's wire formats as typed models: Call Control JSON events, TeXML webhook forms and
the media-streaming handshake (``connected`` then ``start``; PCMU/PCMA at 8 kHz, the
codecs our markup and dial requests ask for and pipecat's serializer speaks)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, TypeAdapter

from telephony.fields import CarrierId, CarrierModel, CustomParameters, Digits, Party, Word, sample_rate_in

SAMPLE_RATES = frozenset({8000})


class Payload(CarrierModel):
    call_control_id: CarrierId | None = None
    to: Party = ""
    from_: Party = Field(default="", alias="from")
    hangup_cause: Word = ""
    result: Word = ""
    client_state: Party = ""  # base64: the dial's idempotency key (telephony/telnyx/provider.py)


class EventData(CarrierModel):
    event_type: Word
    payload: Payload


class Event(CarrierModel):
    data: EventData


class TexmlInbound(CarrierModel):
    CallSid: CarrierId
    To: Annotated[Party, Field(min_length=1)]
    From: Party = ""


class TexmlStatus(CarrierModel):
    CallSid: CarrierId
    CallStatus: Annotated[Word, Field(min_length=1)]
    CallDuration: Digits = ""


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


class MediaFormat(CarrierModel):
    encoding: Annotated[Literal["PCMU", "PCMA"], BeforeValidator(_upper)] = "PCMU"
    sample_rate: Annotated[int, AfterValidator(sample_rate_in(SAMPLE_RATES))] = 8000
    channels: Literal[1] = 1


class Start(CarrierModel):
    call_control_id: CarrierId
    media_format: MediaFormat = Field(default_factory=MediaFormat)
    custom_parameters: CustomParameters = Field(default_factory=dict)


class StartEvent(CarrierModel):
    event: Literal["start"]
    stream_id: CarrierId
    start: Start


class ConnectedEvent(CarrierModel):
    event: Literal["connected"]


HANDSHAKE = TypeAdapter(Annotated[ConnectedEvent | StartEvent, Field(discriminator="event")])
