"""Plivo's wire formats as typed models: voice and callback forms, and the audio-stream
``start`` event (μ-law at 8 kHz: what our ``<Stream contentType>`` asks for and pipecat's
serializer speaks)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, TypeAdapter

from telephony.fields import CarrierId, CarrierModel, CustomParameters, Digits, Party, Word, sample_rate_in

SAMPLE_RATES = frozenset({8000})


class InboundForm(CarrierModel):
    CallUUID: CarrierId
    To: Annotated[Party, Field(min_length=1)]
    From: Party = ""


class StatusForm(CarrierModel):
    CallUUID: CarrierId | None = None
    RequestUUID: CarrierId | None = None
    CallStatus: Word = ""
    Event: Word = ""
    Machine: Word | None = None
    Duration: Digits = ""


class MediaFormat(CarrierModel):
    encoding: Literal["audio/x-mulaw"] = "audio/x-mulaw"
    sampleRate: Annotated[int, AfterValidator(sample_rate_in(SAMPLE_RATES))] = 8000


class Start(CarrierModel):
    callId: CarrierId
    streamId: CarrierId
    mediaFormat: MediaFormat = Field(default_factory=MediaFormat)
    # Plivo forwards <Stream extraHeaders> here; our token travels in the URL's query
    extraHeaders: CustomParameters | str | None = None


class StartEvent(CarrierModel):
    event: Literal["start"]
    start: Start


HANDSHAKE = TypeAdapter(StartEvent)
