"""Exotel's wire formats as typed models: Voicebot applet dynamic-URL requests and status
callbacks (forms or query strings), and the media websocket ``start`` event (base64 16-bit
linear PCM; Exotel documents 8 kHz by default and 16 kHz via ``sample-rate``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, TypeAdapter

from telephony.fields import CarrierId, CarrierModel, CustomParameters, Digits, Party, Word, sample_rate_in

SAMPLE_RATES = frozenset({8000, 16000})
# Exotel's API hosts (Singapore and Mumbai clusters): the only hosts a tenant may name
API_HOSTS = frozenset({"api.exotel.com", "api.in.exotel.com"})


class InboundForm(CarrierModel):
    CallSid: CarrierId
    CallTo: Party = ""
    To: Party = ""
    CallFrom: Party = ""
    From: Party = ""


class StatusForm(CarrierModel):
    CallSid: CarrierId
    Status: Word = ""
    CallStatus: Word = ""
    ConversationDuration: Digits = ""
    Duration: Digits = ""
    CustomField: Party = ""  # the dial's idempotency key (telephony/exotel/provider.py)


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


# "base64" is what the Voicebot applet writes (base64 raw/slin); μ-law is refused
Encoding = Literal["base64", "raw/slin", "slin", "audio/l16"]


class MediaFormat(CarrierModel):
    encoding: Annotated[Encoding, BeforeValidator(_lower)] = "base64"
    # Exotel writes the rate as a string ("8000"); lax int parsing accepts digits only
    sample_rate: Annotated[int, AfterValidator(sample_rate_in(SAMPLE_RATES))] = 8000


class Start(CarrierModel):
    stream_sid: CarrierId | None = None
    call_sid: CarrierId
    custom_parameters: CustomParameters = Field(default_factory=dict)
    media_format: MediaFormat = Field(default_factory=MediaFormat)


class StartEvent(CarrierModel):
    event: Literal["start"]
    stream_sid: CarrierId | None = None
    start: Start


class ConnectedEvent(CarrierModel):
    event: Literal["connected"]


HANDSHAKE = TypeAdapter(Annotated[ConnectedEvent | StartEvent, Field(discriminator="event")])


class IncomingNumber(CarrierModel):
    phone_number: Annotated[str, Field(max_length=32)] = ""


class IncomingNumbers(CarrierModel):
    """A page of ``GET /v2_beta/Accounts/<sid>/IncomingPhoneNumbers``."""

    incoming_phone_numbers: list[IncomingNumber] = Field(default_factory=list, max_length=1000)
    # a path on the same API host, when there are more pages
    next_page_uri: Annotated[str, Field(pattern=r"^/v2_beta/Accounts/[^#@\\\s]{1,300}$")] | None = None


def api_host(subdomain: str) -> str | None:
    """The Exotel API host a stored ``subdomain`` names (Exotel's docs write it with a
    leading ``@``), or None when it is not one of Exotel's."""
    host = subdomain.strip().lower().removeprefix("@")
    return host if host in API_HOSTS else None
