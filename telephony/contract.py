"""The provider contract every carrier package implements.

A carrier package (``telephony/<name>/``) exposes one ``CarrierProvider`` subclass and is
registered with one line in ``telephony/registry.py``. Carriers know nothing of each other,
of HTTP frameworks (they get plain dicts/bytes/headers) or of the pipeline internals: the
server glues them together.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

import httpx
from pipecat.serializers.base_serializer import FrameSerializer

# Makes the client a carrier's REST requests go through (``telephony.rest.send``): the
# server passes its egress policy's (resolve once, public addresses only, no redirects).
HttpClientFactory = Callable[..., httpx.AsyncClient]


def plain_client(*, timeout: float = 10.0) -> httpx.AsyncClient:
    """A client without the egress check: for an operator's own ``<CARRIER>_API_BASE_URL``
    (trusted like the operator's provider endpoints) and for carriers used outside the server."""
    return httpx.AsyncClient(timeout=timeout, follow_redirects=False)


class Capability(StrEnum):
    """What a carrier can do through its REST API besides dialing and hanging up (the
    README's carrier table). The server asks the carrier, never names it."""

    TRANSFER = "transfer"  # cold transfer of a live call to a number or SIP URI
    SEND_DTMF = "send_dtmf"  # DTMF through the REST API (live calls use in-band tones)
    LEAVE_MESSAGE = "leave_message"  # speak a voicemail message, then hang up
    MACHINE_DETECTION = "machine_detection"  # answering-machine detection on outbound calls
    REST_HANGUP = "rest_hangup"  # hang up through the API (else: by closing the stream)


@dataclass(frozen=True, slots=True)
class InboundCall:
    """What a carrier's voice webhook tells us about a new inbound call."""

    carrier_call_id: str
    from_number: str
    to_number: str
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StreamStart:
    """What the first messages of a media websocket told us."""

    carrier_call_id: str
    stream_id: str
    custom_parameters: Mapping[str, str]
    sample_rate: int
    encoding: str  # "mulaw", "linear16", ...
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    """A call-progress callback, normalized to our statuses."""

    carrier_call_id: str
    status: str  # a db.calls.CallStatus value (queued, ringing, in-progress, completed, ...)
    duration_seconds: int | None = None
    answered_by: str | None = None  # AMD result: human|machine|unknown
    # the dial's ``DialRequest.idempotency_key`` as the carrier echoed it back in this
    # callback (carriers that echo a value of the dial request in every callback)
    echoed_key: str | None = None


@dataclass(frozen=True, slots=True)
class DialRequest:
    to_number: str
    from_number: str
    answer_url: str  # where the carrier fetches call markup when answered
    status_url: str
    # the media websocket (token included) for carriers that stream straight from the dial
    # request instead of fetching markup (Telnyx Call Control)
    stream_url: str | None = None
    machine_detection: bool = False
    # the same key for every send of one dial attempt: each carrier sends it where its API
    # takes one (``CarrierProvider.dial_replays`` says whether a re-send is then safe); the
    # call's own id travels in ``answer_url``/``status_url``, so its callbacks name it anyway
    idempotency_key: str | None = None


class CarrierProvider(ABC):
    """One carrier's webhooks, call control and media-stream handling."""

    name: ClassVar[str]
    # keys the stored credentials must hold (validated when a carrier account is saved)
    credential_fields: ClassVar[tuple[str, ...]] = ()
    # the media websocket audio format: pipeline input/output sample rate
    sample_rate: ClassVar[int] = 8000
    # the sample rates a media stream may announce; any other is refused at the handshake
    media_sample_rates: ClassVar[frozenset[int]] = frozenset({8000, 16000})
    # the bot audio in each outbound media message, in ms (a multiple of 10): what the
    # carrier documents, else the largest it takes. Fewer, larger messages cost less CPU per
    # second of speech (BENCHMARKS.md step 18); the carrier buffers them and drops its buffer
    # on a barge-in (``clear``). 40 is pipecat's default
    media_out_chunk_ms: ClassVar[int] = 40
    # True: the pipeline runs at ``sample_rate`` whatever the stream announces (the
    # serializer resamples); False: at the stream's own rate
    fixed_pipeline_rate: ClassVar[bool] = False
    # True: the dial request carries the media websocket URL (with its token) and the call
    # streams as soon as it is answered; False: the carrier fetches markup from our answer URL
    streams_on_dial: ClassVar[bool] = False
    # True: a dial re-sent with the same ``DialRequest.idempotency_key`` is answered with the
    # call the first request placed (the carrier documents idempotent creates), so a dial
    # whose answer was lost may be sent again. False: a re-send could place a second call;
    # an in-doubt dial is resolved from the call's callbacks, never sent again
    dial_replays: ClassVar[bool] = False
    # True: the webhook signature covers the full URL we gave (query included), so a
    # verified callback on ``status_url?call=<id>`` was sent for that call's dial
    signature_binds_url: ClassVar[bool] = False
    # what the carrier's REST API can do (see ``Capability``)
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.REST_HANGUP})

    def __init__(self, credentials: Mapping[str, Any], *, api_base_url: str | None = None,
                 http_client: HttpClientFactory | None = None):
        self.credentials = credentials
        self.api_base_url = api_base_url
        # the client REST requests go through (the server passes its egress policy's)
        self.http_client: HttpClientFactory = http_client or plain_client

    # -- webhooks ---------------------------------------------------------------------
    @abstractmethod
    def verify_webhook(self, url: str, headers: Mapping[str, str], body: bytes) -> bool:
        """Check the carrier's signature on a webhook against the public ``url`` it signed."""

    @abstractmethod
    def parse_inbound(self, body: bytes, headers: Mapping[str, str]) -> InboundCall: ...

    @abstractmethod
    def parse_status(self, body: bytes, headers: Mapping[str, str]) -> StatusUpdate: ...

    @abstractmethod
    def answer_markup(self, stream_url: str, params: Mapping[str, str]) -> tuple[str, str]:
        """Markup that connects the call to our media websocket: (content_type, body)."""

    @abstractmethod
    def reject_markup(self, reason: str) -> tuple[str, str]: ...

    # -- media ------------------------------------------------------------------------
    @abstractmethod
    def parse_stream_start(self, messages: list[str | bytes], query: Mapping[str, str]) -> StreamStart | None:
        """Given the first websocket messages (and the websocket URL's query parameters),
        return the start info once complete, None while more messages are needed. Raises
        ``HandshakeInvalid`` (and nothing else) on a handshake the carrier would not send,
        including a media format (sample rate, encoding) the carrier does not document."""

    @abstractmethod
    def serializer(self, start: StreamStart) -> FrameSerializer:
        """The pipecat serializer for this call's media websocket."""

    def pipeline_sample_rate(self, start: StreamStart) -> int:
        """The pipeline's input/output sample rate for this stream."""
        return self.sample_rate if self.fixed_pipeline_rate else start.sample_rate

    # -- call control (REST) ------------------------------------------------------------
    @abstractmethod
    async def dial(self, request: DialRequest) -> str:
        """Place an outbound call; return the carrier's call id."""

    @abstractmethod
    async def hangup(self, carrier_call_id: str) -> None: ...

    async def transfer(self, carrier_call_id: str, to_number: str) -> None:
        raise UnsupportedOperation(f"{self.name} does not support transfer")

    async def send_dtmf(self, carrier_call_id: str, digits: str) -> None:
        """Send DTMF through the carrier's API. Live calls normally send in-band tones
        through the media stream instead (works for every carrier)."""
        raise UnsupportedOperation(f"{self.name} does not support sending DTMF")

    async def leave_message(self, carrier_call_id: str, text: str) -> None:
        """Voicemail policy "leave a message": speak ``text`` on the call, then hang up."""
        raise UnsupportedOperation(f"{self.name} cannot leave a voicemail message")

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release HTTP clients."""

    # -- replay protection and ownership ----------------------------------------------------
    def replay_key(self, url: str, headers: Mapping[str, str], body: bytes) -> ReplayKey | None:
        """A stable key identifying this signed request (call after ``verify_webhook``
        accepted it) and how long to remember it; None when the carrier's scheme gives no
        request identity (plain HTTP Basic auth)."""
        return None

    @classmethod
    def credential_problems(cls, credentials: Mapping[str, Any]) -> dict[str, str]:
        """Credential fields whose value is unacceptable (field → reason), beyond the
        required ones being present: e.g. an API host that is not the carrier's."""
        return {}

    async def account_has_number(self, number: str) -> bool:
        """Whether the carrier account these credentials open holds ``number`` (E.164), as
        the carrier's API lists it. ``UnsupportedOperation`` when the carrier (or these
        credentials) offer no listing; ``CarrierApiError`` when the request failed."""
        raise UnsupportedOperation(f"{self.name} cannot list an account's numbers")


@dataclass(frozen=True, slots=True)
class ReplayKey:
    """A signed webhook's identity: ``key`` is namespaced by carrier and at most ~100
    characters; ``ttl_seconds`` covers the carrier's signature window (how long the same
    signed request would still verify)."""

    key: str
    ttl_seconds: int


class HandshakeInvalid(ValueError):
    """A media-stream handshake refused (wrong types, nesting, unsupported media format):
    the server closes the websocket with 1008. ``reason`` names the field, never echoes
    the carrier's input."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class CarrierApiError(Exception):
    """A carrier REST request failed. ``code`` is stable (``carrier_unreachable``,
    ``carrier_rejected``, ``carrier_auth_failed``, ``carrier_misconfigured``); ``status`` the
    carrier's HTTP status when it answered; ``detail`` is for logs only, never for a client
    (it may describe the network the server sits on)."""

    def __init__(self, code: str, detail: str = "", status: int | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.detail = detail
        self.status = status


class WebhookRejected(Exception):
    """A webhook could not be parsed (malformed body): answer 400, never a stack trace."""


class UnsupportedOperation(Exception):
    """The carrier cannot do this (documented in the README's carrier table)."""
