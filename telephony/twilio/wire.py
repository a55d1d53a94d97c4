"""Twilio's wire formats as typed models: voice and status webhook forms, and the Media
Streams handshake (``connected`` then ``start``; μ-law at 8 kHz is the only format Twilio
Media Streams send)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, TypeAdapter

from telephony.fields import CarrierId, CarrierModel, CustomParameters, Digits, Party, Word, sample_rate_in

SAMPLE_RATES = frozenset({8000})


class InboundForm(CarrierModel):
    CallSid: CarrierId
    To: Annotated[Party, Field(min_length=1)]
    From: Party = ""


class StatusForm(CarrierModel):
    CallSid: CarrierId
    CallStatus: Word = ""
    AnsweredBy: Word = ""
    CallDuration: Digits = ""


class MediaFormat(CarrierModel):
    encoding: Literal["audio/x-mulaw"] = "audio/x-mulaw"
    sampleRate: Annotated[int, AfterValidator(sample_rate_in(SAMPLE_RATES))] = 8000
    channels: Literal[1] = 1


class Start(CarrierModel):
    streamSid: CarrierId | None = None
    callSid: CarrierId
    customParameters: CustomParameters = Field(default_factory=dict)
    mediaFormat: MediaFormat = Field(default_factory=MediaFormat)


class StartEvent(CarrierModel):
    event: Literal["start"]
    streamSid: CarrierId | None = None
    start: Start


class ConnectedEvent(CarrierModel):
    event: Literal["connected"]


HANDSHAKE = TypeAdapter(Annotated[ConnectedEvent | StartEvent, Field(discriminator="event")])
