"""Twilio carrier: signature check, TwiML, Media Streams handshake and REST call control.

Credentials: ``account_sid`` and ``auth_token``. REST calls go through the official
``twilio`` SDK (async HTTP client); ``api_base_url`` (setting ``TWILIO_API_BASE_URL``)
replaces ``https://api.twilio.com`` so tests can point the real SDK at a fake server.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import AsyncIterator, Mapping
from typing import Any, ClassVar
from urllib.parse import parse_qsl

import aiohttp
from pipecat.serializers.base_serializer import FrameSerializer
from pipecat.serializers.twilio import TwilioFrameSerializer
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.twiml.voice_response import Connect, Dial, Play, VoiceResponse

from telephony.contract import (
    Capability,
    CarrierApiError,
    CarrierProvider,
    DialRequest,
    HandshakeInvalid,
    InboundCall,
    ReplayKey,
    StatusUpdate,
    StreamStart,
    WebhookRejected,
)
from telephony.fields import handshake_message, webhook_fields
from telephony.twilio import wire

_ACCOUNT_SID = re.compile(r"AC[0-9a-fA-F]{32}")
# Twilio signatures carry no timestamp: how long a seen signature is remembered
REPLAY_WINDOW_SECONDS = 24 * 3600

_STATUS = {
    "queued": "queued",
    "initiated": "queued",
    "ringing": "ringing",
    "in-progress": "in-progress",
    "answered": "in-progress",
    "completed": "completed",
    "busy": "busy",
    "no-answer": "no-answer",
    "failed": "failed",
    "canceled": "canceled",
}


class _FormParams(dict[str, list[str]]):
    """Form fields with repeated keys, in the shape ``RequestValidator`` understands."""

    def getall(self, name: str) -> list[str]:
        return self[name]


def _parse_form(body: bytes) -> _FormParams:
    params = _FormParams()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise WebhookRejected("body is not UTF-8") from exc
    for key, value in parse_qsl(text, keep_blank_values=True):
        params.setdefault(key, []).append(value)
    return params


def _first(params: Mapping[str, list[str]], name: str) -> str:
    values = params.get(name)
    return values[0] if values else ""


def normalize_answered_by(value: str) -> str | None:
    """Twilio AMD ``AnsweredBy`` → human | machine | unknown."""
    if not value:
        return None
    if value == "human":
        return "human"
    if value.startswith("machine") or value == "fax":
        return "machine"
    return "unknown"


class TwilioProvider(CarrierProvider):
    name: ClassVar[str] = "twilio"
    credential_fields: ClassVar[tuple[str, ...]] = ("account_sid", "auth_token")
    sample_rate: ClassVar[int] = 8000
    media_sample_rates: ClassVar[frozenset[int]] = wire.SAMPLE_RATES  # the handshake model's
    media_out_chunk_ms: ClassVar[int] = 100  # any size; Twilio buffers it until <clear>
    capabilities: ClassVar[frozenset[Capability]] = frozenset(Capability)
    # I-Twilio-Idempotency-Token: a create re-sent with the same token answers with the call
    # the first one created
    dial_replays: ClassVar[bool] = True
    signature_binds_url: ClassVar[bool] = True  # X-Twilio-Signature: HMAC of URL + params

    @classmethod
    def credential_problems(cls, credentials: Mapping[str, Any]) -> dict[str, str]:
        if not _ACCOUNT_SID.fullmatch(str(credentials.get("account_sid", ""))):
            return {"account_sid": "must be AC followed by 32 hexadecimal digits"}
        return {}

    # -- webhooks ---------------------------------------------------------------------
    def verify_webhook(self, url: str, headers: Mapping[str, str], body: bytes) -> bool:
        signature = headers.get("x-twilio-signature", "")
        token = str(self.credentials.get("auth_token") or "")
        if not signature or not token:
            return False
        try:
            params = _parse_form(body)
        except WebhookRejected:
            return False
        return bool(RequestValidator(token).validate(url, params, signature))

    def replay_key(self, url: str, headers: Mapping[str, str], body: bytes) -> ReplayKey | None:
        """The signature (it covers the URL and every parameter). Twilio signs no timestamp,
        so a signed request verifies forever: remembered for ``REPLAY_WINDOW_SECONDS``."""
        signature = headers.get("x-twilio-signature", "")
        digest = hashlib.sha256(signature.encode("utf-8", "replace")).hexdigest()
        return ReplayKey(f"twilio:{digest}", REPLAY_WINDOW_SECONDS)

    def parse_inbound(self, body: bytes, headers: Mapping[str, str]) -> InboundCall:
        params = _parse_form(body)
        raw = {k: v[0] for k, v in params.items()}
        form = webhook_fields(wire.InboundForm, raw)
        return InboundCall(form.CallSid, form.From, form.To, raw)

    def parse_status(self, body: bytes, headers: Mapping[str, str]) -> StatusUpdate:
        params = _parse_form(body)
        form = webhook_fields(wire.StatusForm, {k: v[0] for k, v in params.items()})
        answered_by = normalize_answered_by(form.AnsweredBy)
        raw_status = form.CallStatus
        if not raw_status and answered_by is None:
            raise WebhookRejected("CallStatus is required")
        # asynchronous AMD callbacks carry AnsweredBy but no CallStatus: the call is up
        status = _STATUS.get(raw_status, "in-progress" if not raw_status else "failed")
        return StatusUpdate(
            carrier_call_id=form.CallSid,
            status=status,
            duration_seconds=int(form.CallDuration) if form.CallDuration else None,
            answered_by=answered_by,
        )

    def answer_markup(self, stream_url: str, params: Mapping[str, str]) -> tuple[str, str]:
        response = VoiceResponse()
        connect = Connect()
        stream = connect.stream(url=stream_url)
        for key, value in params.items():
            stream.parameter(name=key, value=value)
        response.append(connect)
        return "application/xml", str(response)

    def reject_markup(self, reason: str) -> tuple[str, str]:
        response = VoiceResponse()
        if reason == "busy":
            response.reject(reason="busy")
        elif reason == "unavailable":
            response.say("Sorry, we cannot take your call right now. Please try again later.")
            response.hangup()
        else:
            response.reject()
        return "application/xml", str(response)

    # -- media ------------------------------------------------------------------------
    def parse_stream_start(self, messages: list[str | bytes], query: Mapping[str, str]) -> StreamStart | None:
        for message in messages:
            if not isinstance(message, str):
                raise HandshakeInvalid("Twilio media streams send text frames only")
            event = handshake_message(wire.HANDSHAKE, message)
            if isinstance(event, wire.ConnectedEvent):
                continue
            start = event.start
            stream_sid = start.streamSid or event.streamSid
            if not stream_sid:
                raise HandshakeInvalid("start.streamSid: Field required")
            return StreamStart(
                carrier_call_id=start.callSid,
                stream_id=stream_sid,
                custom_parameters=dict(start.customParameters),
                sample_rate=start.mediaFormat.sampleRate,
                encoding="mulaw",
                raw=start.model_dump(),
            )
        return None

    def serializer(self, start: StreamStart) -> FrameSerializer:
        if start.sample_rate not in self.media_sample_rates:  # never build one for a bad rate
            raise HandshakeInvalid("unsupported sample rate")
        # We hang up ourselves (call control goes through the coordination layer), so the
        # serializer gets no credentials and never calls the REST API on EndFrame.
        return TwilioFrameSerializer(
            stream_sid=start.stream_id,
            call_sid=start.carrier_call_id,
            params=TwilioFrameSerializer.InputParams(
                twilio_sample_rate=start.sample_rate, auto_hang_up=False
            ),
        )

    # -- REST -------------------------------------------------------------------------
    def _client(self, headers: Mapping[str, str] | None = None) -> Client:
        client = Client(
            str(self.credentials["account_sid"]),
            str(self.credentials["auth_token"]),
            http_client=_HeadersHttpClient(dict(headers or {}), pool_connections=False, timeout=10),
        )
        if self.api_base_url:
            client.api.base_url = self.api_base_url.rstrip("/")
        return client

    async def dial(self, request: DialRequest) -> str:
        kwargs: dict[str, Any] = {
            "to": request.to_number,
            "from_": request.from_number,
            "url": request.answer_url,
            "method": "POST",
            "status_callback": request.status_url,
            "status_callback_method": "POST",
            "status_callback_event": ["initiated", "ringing", "answered", "completed"],
        }
        if request.machine_detection:
            kwargs.update(
                machine_detection="DetectMessageEnd",
                async_amd="true",
                async_amd_status_callback=request.status_url,
                async_amd_status_callback_method="POST",
            )
        headers = {IDEMPOTENCY_HEADER: request.idempotency_key} if request.idempotency_key else None
        async with _carrier_errors():
            call = await self._client(headers).calls.create_async(**kwargs)
        return str(call.sid)

    async def hangup(self, carrier_call_id: str) -> None:
        try:
            async with _carrier_errors():
                await self._client().calls(carrier_call_id).update_async(status="completed")
        except CarrierApiError as exc:
            if exc.status != 404:  # already gone
                raise

    async def update_twiml(self, carrier_call_id: str, twiml: str) -> None:
        """Replace the live call's TwiML (ends the media stream)."""
        async with _carrier_errors():
            await self._client().calls(carrier_call_id).update_async(twiml=twiml)

    async def account_has_number(self, number: str) -> bool:
        """The account's IncomingPhoneNumbers filtered by ``PhoneNumber``."""
        async with _carrier_errors():
            listed = await self._client().incoming_phone_numbers.list_async(phone_number=number, limit=20)
        return any(n.phone_number == number for n in listed)

    async def transfer(self, carrier_call_id: str, to_number: str) -> None:
        response = VoiceResponse()
        dial = Dial()
        if to_number.startswith("sip:"):
            dial.sip(to_number)
        else:
            dial.number(to_number)
        response.append(dial)
        await self.update_twiml(carrier_call_id, str(response))

    async def send_dtmf(self, carrier_call_id: str, digits: str) -> None:
        response = VoiceResponse()
        response.append(Play(digits=digits))
        await self.update_twiml(carrier_call_id, str(response))

    async def leave_message(self, carrier_call_id: str, text: str) -> None:
        """Voicemail policy "leave a message": speak ``text`` then hang up."""
        response = VoiceResponse()
        response.say(text)
        response.hangup()
        await self.update_twiml(carrier_call_id, str(response))


# Twilio places a call once per token: a dial re-sent with the same token returns the call
# the first request created
IDEMPOTENCY_HEADER = "I-Twilio-Idempotency-Token"


class _HeadersHttpClient(AsyncTwilioHttpClient):
    """The SDK's async client, adding fixed headers (the SDK's ``create`` takes none)."""

    def __init__(self, headers: dict[str, str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.extra_headers = headers

    async def request(self, method: str, url: str, params: Any = None, data: Any = None,
                      headers: dict[str, str] | None = None, **kwargs: Any) -> Any:  # fmt: skip
        merged = {**(headers or {}), **self.extra_headers}
        return await super().request(method, url, params=params, data=data, headers=merged,
                                     **kwargs)  # fmt: skip


@contextlib.asynccontextmanager
async def _carrier_errors() -> AsyncIterator[None]:
    """Twilio SDK failures as ``CarrierApiError`` (stable code, detail for logs only)."""
    try:
        yield
    except TwilioException as exc:  # TwilioRestException, or a list page that failed
        status = exc.status if isinstance(exc, TwilioRestException) else _page_status(exc)
        code = "carrier_auth_failed" if status in (401, 403) else "carrier_rejected"
        raise CarrierApiError(code, f"HTTP {status}: {type(exc).__name__}", status) from None
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        raise CarrierApiError("carrier_unreachable", f"{type(exc).__name__}: {exc}") from None


def _page_status(exc: TwilioException) -> int | None:
    """The HTTP status of ``TwilioException("Unable to fetch page", response)``."""
    response = exc.args[1] if len(exc.args) > 1 else None
    status = getattr(response, "status_code", None)
    return status if isinstance(status, int) else None
