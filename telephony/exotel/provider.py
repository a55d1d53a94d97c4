"""Exotel carrier: Voicebot applet media websockets and the Calls connect API.

Credentials: ``account_sid``, ``api_key``, ``api_token``, ``app_id`` (the Exotel flow with
the Voicebot applet used for outbound calls) and optional ``subdomain``
(``api.exotel.com`` or ``api.in.exotel.com``).

What Exotel's protocol allows:
- Exotel does not sign its webhooks. The Voicebot applet's *dynamic URL* request (Exotel
  GETs our endpoint and expects ``{"url": "wss://..."}``) is authenticated with HTTP Basic
  auth: configure it as ``https://<api_key>:<api_token>@host/telephony/exotel/voice``.
  Status callbacks are checked the same way.
- There is no REST hang-up/transfer for a call inside a Voicebot applet: the server hangs
  up by closing the media websocket (the flow then ends the call).
- Audio is 16-bit linear PCM at 8 kHz, base64 in JSON ``media`` events.
"""

from __future__ import annotations

import base64
import hmac
import json
from collections.abc import Mapping
from typing import Any, ClassVar

import httpx
from pipecat.serializers.base_serializer import FrameSerializer
from pipecat.serializers.exotel import ExotelFrameSerializer

from telephony.contract import (
    Capability,
    CarrierProvider,
    DialRequest,
    InboundCall,
    StatusUpdate,
    StreamStart,
    WebhookRejected,
)
from telephony.urls import parse_form, with_query

_STATUS = {
    "queued": "queued", "ringing": "ringing", "in-progress": "in-progress",
    "completed": "completed", "busy": "busy", "no-answer": "no-answer",
    "failed": "failed", "canceled": "canceled",
}  # fmt: skip


class ExotelProvider(CarrierProvider):
    name: ClassVar[str] = "exotel"
    credential_fields: ClassVar[tuple[str, ...]] = ("account_sid", "api_key", "api_token")
    sample_rate: ClassVar[int] = 8000
    capabilities: ClassVar[frozenset[Capability]] = frozenset()  # in-band DTMF; hang-up closes the stream

    def verify_webhook(self, url: str, headers: Mapping[str, str], body: bytes) -> bool:
        auth = headers.get("authorization", "")
        if not auth.lower().startswith("basic "):
            return False
        try:
            user, _, password = base64.b64decode(auth[6:].strip()).decode().partition(":")
        except ValueError:
            return False
        key = str(self.credentials.get("api_key") or "")
        token = str(self.credentials.get("api_token") or "")
        return bool(key and token) and (hmac.compare_digest(user, key) & hmac.compare_digest(password, token))

    @staticmethod
    def _form(body: bytes) -> dict[str, str]:
        try:
            return parse_form(body)
        except ValueError as exc:
            raise WebhookRejected("body is not UTF-8") from exc

    def parse_inbound(self, body: bytes, headers: Mapping[str, str]) -> InboundCall:
        form = self._form(body)
        call_id = form.get("CallSid")
        to = form.get("CallTo") or form.get("To")
        if not call_id or not to:
            raise WebhookRejected("CallSid and CallTo are required")
        return InboundCall(call_id, form.get("CallFrom") or form.get("From", ""), to, form)

    def parse_status(self, body: bytes, headers: Mapping[str, str]) -> StatusUpdate:
        form = self._form(body)
        call_id, raw = form.get("CallSid"), form.get("Status") or form.get("CallStatus")
        if not call_id or not raw:
            raise WebhookRejected("CallSid and Status are required")
        duration = form.get("ConversationDuration") or form.get("Duration") or ""
        return StatusUpdate(
            call_id, _STATUS.get(raw, "failed"), int(duration) if duration.isdigit() else None
        )

    def answer_markup(self, stream_url: str, params: Mapping[str, str]) -> tuple[str, str]:
        return "application/json", json.dumps({"url": with_query(stream_url, params)})

    def reject_markup(self, reason: str) -> tuple[str, str]:
        return "application/json", json.dumps({"error": reason})

    def parse_stream_start(self, messages: list[str | bytes], query: Mapping[str, str]) -> StreamStart | None:
        for message in messages:
            data = json.loads(message)
            if not isinstance(data, dict):
                raise ValueError("message is not a JSON object")
            if data.get("event") == "connected":
                continue
            start = data.get("start")
            if data.get("event") != "start" or not isinstance(start, dict):
                raise ValueError("expected a start event")
            stream_sid = str(start.get("stream_sid") or data.get("stream_sid") or "")
            call_sid = str(start.get("call_sid") or "")
            if not stream_sid or not call_sid:
                raise ValueError("start event without stream_sid/call_sid")
            fmt = start.get("media_format") or {}
            custom = dict(query)
            extra = start.get("custom_parameters") or {}
            custom.update({str(k): str(v) for k, v in extra.items()})
            rate = int(fmt.get("sample_rate") or 8000)
            return StreamStart(call_sid, stream_sid, custom, rate, "linear16", start)
        return None

    def serializer(self, start: StreamStart) -> FrameSerializer:
        return ExotelFrameSerializer(
            stream_sid=start.stream_id,
            call_sid=start.carrier_call_id,
            params=ExotelFrameSerializer.InputParams(exotel_sample_rate=start.sample_rate),
        )

    async def dial(self, request: DialRequest) -> str:
        sid = str(self.credentials["account_sid"])
        host = self.credentials.get("subdomain") or "api.exotel.com"
        base = self.api_base_url or f"https://{host}"
        flow = f"http://my.exotel.com/{sid}/exoml/start_voice/{self.credentials.get('app_id', '')}"
        data: dict[str, Any] = {
            "From": request.to_number,
            "CallerId": request.from_number,
            "Url": flow,
            "StatusCallback": request.status_url,
            "StatusCallbackEvents[0]": "terminal",
            "StatusCallbackEvents[1]": "answered",
        }
        auth = (str(self.credentials["api_key"]), str(self.credentials["api_token"]))
        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.post(
                f"{base.rstrip('/')}/v1/Accounts/{sid}/Calls/connect.json", data=data, auth=auth
            )
        response.raise_for_status()
        return str(response.json()["Call"]["Sid"])

    async def hangup(self, carrier_call_id: str) -> None:
        # No REST hang-up inside a Voicebot applet: the server closes the media websocket.
        return None
