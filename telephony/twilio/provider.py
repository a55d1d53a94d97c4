"""Twilio carrier: signature check, TwiML, Media Streams handshake and REST call control.

Credentials: ``account_sid`` and ``auth_token``. REST calls go through the official
``twilio`` SDK (async HTTP client); ``api_base_url`` (setting ``TWILIO_API_BASE_URL``)
replaces ``https://api.twilio.com`` so tests can point the real SDK at a fake server.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import parse_qsl

from pipecat.serializers.base_serializer import FrameSerializer
from pipecat.serializers.twilio import TwilioFrameSerializer
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.twiml.voice_response import Connect, Dial, Play, VoiceResponse

from telephony.contract import (
    Capability,
    CarrierProvider,
    DialRequest,
    InboundCall,
    StatusUpdate,
    StreamStart,
    WebhookRejected,
)

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
    capabilities: ClassVar[frozenset[Capability]] = frozenset(Capability)

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

    def parse_inbound(self, body: bytes, headers: Mapping[str, str]) -> InboundCall:
        params = _parse_form(body)
        call_sid, to = _first(params, "CallSid"), _first(params, "To")
        if not call_sid or not to:
            raise WebhookRejected("CallSid and To are required")
        raw = {k: v[0] for k, v in params.items()}
        return InboundCall(call_sid, _first(params, "From"), to, raw)

    def parse_status(self, body: bytes, headers: Mapping[str, str]) -> StatusUpdate:
        params = _parse_form(body)
        call_sid = _first(params, "CallSid")
        if not call_sid:
            raise WebhookRejected("CallSid is required")
        answered_by = normalize_answered_by(_first(params, "AnsweredBy"))
        raw_status = _first(params, "CallStatus")
        if not raw_status and answered_by is None:
            raise WebhookRejected("CallStatus is required")
        # asynchronous AMD callbacks carry AnsweredBy but no CallStatus: the call is up
        status = _STATUS.get(raw_status, "in-progress" if not raw_status else "failed")
        duration = _first(params, "CallDuration")
        return StatusUpdate(
            carrier_call_id=call_sid,
            status=status,
            duration_seconds=int(duration) if duration.isdigit() else None,
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
            if isinstance(message, bytes):
                raise ValueError("Twilio media streams send text frames only")
            data = json.loads(message)
            if not isinstance(data, dict):
                raise ValueError("message is not a JSON object")
            event = data.get("event")
            if event == "connected":
                continue
            if event != "start":
                raise ValueError(f"expected a start event, got {event!r}")
            start = data.get("start")
            if not isinstance(start, dict):
                raise ValueError("start event without a start object")
            fmt = start.get("mediaFormat") or {}
            custom = start.get("customParameters") or {}
            if not isinstance(custom, dict) or not isinstance(fmt, dict):
                raise ValueError("malformed start event")
            stream_sid = str(start.get("streamSid") or data.get("streamSid") or "")
            call_sid = str(start.get("callSid") or "")
            if not stream_sid or not call_sid:
                raise ValueError("start event without streamSid/callSid")
            encoding = str(fmt.get("encoding", "audio/x-mulaw"))
            if encoding != "audio/x-mulaw":
                raise ValueError(f"unsupported encoding {encoding}")
            return StreamStart(
                carrier_call_id=call_sid,
                stream_id=stream_sid,
                custom_parameters={str(k): str(v) for k, v in custom.items()},
                sample_rate=int(fmt.get("sampleRate") or 8000),
                encoding="mulaw",
                raw=start,
            )
        return None

    def serializer(self, start: StreamStart) -> FrameSerializer:
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
    def _client(self) -> Client:
        client = Client(
            str(self.credentials["account_sid"]),
            str(self.credentials["auth_token"]),
            http_client=AsyncTwilioHttpClient(pool_connections=False, timeout=10),
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
        call = await self._client().calls.create_async(**kwargs)
        return str(call.sid)

    async def hangup(self, carrier_call_id: str) -> None:
        try:
            await self._client().calls(carrier_call_id).update_async(status="completed")
        except TwilioRestException as exc:
            if exc.status != 404:  # already gone
                raise

    async def update_twiml(self, carrier_call_id: str, twiml: str) -> None:
        """Replace the live call's TwiML (ends the media stream)."""
        await self._client().calls(carrier_call_id).update_async(twiml=twiml)

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
