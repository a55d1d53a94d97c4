"""Typed fields and parsing helpers the carrier packages share for what a carrier sends us.

Every value that comes from a carrier (call ids, numbers, media formats) is validated by a
pydantic model before use: bounded length, a plain charset, no control characters (a NUL
in a call id would otherwise reach PostgreSQL and become a 500). JSON is parsed by
pydantic's parser, which bounds nesting depth while parsing (no ``RecursionError``), and
a failure becomes the one typed exception the server maps: ``HandshakeInvalid`` for media
websockets, ``WebhookRejected`` for webhooks. Messages name the field, never the input.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Collection, Mapping
from typing import Annotated, Any, TypeVar
from urllib.parse import parse_qsl

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints, TypeAdapter, ValidationError

from telephony.contract import HandshakeInvalid, WebhookRejected

T = TypeVar("T")

# call / stream ids: Twilio "CA<32 hex>", Telnyx "v3:<base64url>", UUIDs, Exotel hex sids
CarrierId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_\-:.=]{0,127}$")]
# a party of a call as the carrier writes it: E.164 with or without "+", "anonymous",
# "client:alice", "sip:bob@example.com" — printable ASCII, no spaces, bounded
Party = Annotated[str, StringConstraints(pattern=r"^[\x21-\x7e]{0,128}$")]
# short enumerations (statuses, event names) and durations
Word = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_\-. ]{0,64}$")]
Digits = Annotated[str, StringConstraints(pattern=r"^[0-9]{0,9}$")]
# a custom stream parameter (our stream token travels as one)
ParamValue = Annotated[str, StringConstraints(max_length=1024)]
MAX_CUSTOM_PARAMETERS = 32
MAX_HANDSHAKE_MESSAGE_BYTES = 64 * 1024


def _bounded_params(value: dict[str, str]) -> dict[str, str]:
    if len(value) > MAX_CUSTOM_PARAMETERS:
        raise ValueError(f"at most {MAX_CUSTOM_PARAMETERS} parameters")
    if any(len(key) > 64 for key in value):
        raise ValueError("parameter names are at most 64 characters")
    return value


CustomParameters = Annotated[dict[str, ParamValue], AfterValidator(_bounded_params)]


def sample_rate_in(allowed: Collection[int]) -> Callable[[int], int]:
    """An ``AfterValidator`` refusing any sample rate the carrier does not document (a
    rate of 1-99 makes pipecat's output chunk size 0 and spins the event loop)."""

    def check(value: int) -> int:
        if value not in allowed:
            raise ValueError(f"sample rate must be one of {sorted(allowed)}")
        return value

    return check


class CarrierModel(BaseModel):
    """Base for carrier wire models: unknown fields ignored, nothing coerced to str."""

    model_config = ConfigDict(extra="ignore", frozen=True)


def _where(exc: ValidationError) -> str:
    first = exc.errors(include_url=False, include_input=False)[0]
    loc = ".".join(str(part) for part in first["loc"])[:80] or "message"
    return f"{loc}: {first['msg']}"[:160]  # some messages quote a discriminator value


def handshake_message(adapter: TypeAdapter[T], message: str | bytes) -> T:
    """One media-websocket JSON message validated by ``adapter``, or ``HandshakeInvalid``."""
    if not isinstance(message, str | bytes):
        raise HandshakeInvalid("message is neither text nor bytes")
    if len(message) > MAX_HANDSHAKE_MESSAGE_BYTES:
        raise HandshakeInvalid("message too large")
    try:
        return adapter.validate_json(message)
    except ValidationError as exc:
        raise HandshakeInvalid(_where(exc)) from None


def webhook_json(model: type[T], body: bytes) -> T:
    """A JSON webhook body validated by ``model``, or ``WebhookRejected``."""
    try:
        return TypeAdapter(model).validate_json(body)
    except ValidationError as exc:
        raise WebhookRejected(_where(exc)) from None


def webhook_fields(model: type[T], fields: Mapping[str, Any]) -> T:
    """Already-decoded webhook fields (a form) validated by ``model``, or ``WebhookRejected``."""
    try:
        return TypeAdapter(model).validate_python(dict(fields))
    except ValidationError as exc:
        raise WebhookRejected(_where(exc)) from None


def form_fields(body: bytes) -> dict[str, str]:
    """A form-encoded body (or query string) as a dict, last value wins; ``WebhookRejected``
    when it is not UTF-8."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise WebhookRejected("body is not UTF-8") from None
    return dict(parse_qsl(text, keep_blank_values=True))


def ascii_equal(expected: str, given: str) -> bool:
    """Constant-time comparison of an expected ASCII secret with an untrusted header value;
    a non-ASCII value is simply unequal (``hmac.compare_digest`` raises ``TypeError`` on
    non-ASCII ``str``)."""
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8", "replace"))
