"""Exotel carrier: Voicebot applet media websockets and the Calls connect API.

Credentials: ``account_sid``, ``api_key``, ``api_token``, ``app_id`` (the Exotel flow with
the Voicebot applet used for outbound calls) and optional ``subdomain``
(``api.exotel.com`` or ``api.in.exotel.com``).

What Exotel's protocol allows:
- Exotel does not sign its webhooks. The Voicebot applet's *dynamic URL* request (Exotel
  GETs our endpoint and expects ``{"url": "wss://..."}``) is authenticated with HTTP Basic
  auth: configure it as ``https://<api_key>:<api_token>@host/telephony/exotel/voice``.
  Status callbacks are checked the same way: the ``StatusCallback`` URL we hand Exotel when
  dialing carries the credentials (``https://<api_key>:<api_token>@host/...``).
- ``subdomain`` is tenant input: only Exotel's API hosts (``api.exotel.com``,
  ``api.in.exotel.com``) are accepted; the operator's ``EXOTEL_API_BASE_URL`` overrides it.
- There is no REST hang-up/transfer for a call inside a Voicebot applet: the server hangs
  up by closing the media websocket (the flow then ends the call).
- Audio is 16-bit linear PCM at 8 kHz, base64 in JSON ``media`` events.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import quote, urlsplit, urlunsplit

from pipecat.serializers.base_serializer import FrameSerializer
from pipecat.serializers.exotel import ExotelFrameSerializer

from telephony.contract import (
    Capability,
    CarrierApiError,
    CarrierProvider,
    DialRequest,
    HandshakeInvalid,
    InboundCall,
    StatusUpdate,
    StreamStart,
    WebhookRejected,
)
from telephony.exotel import wire
from telephony.fields import ascii_equal, form_fields, handshake_message, webhook_fields
from telephony.numbers import normalize_e164
from telephony.rest import check, json_of, send
from telephony.urls import with_query

_ACCOUNT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")  # becomes a URL path segment
_STATUS = {
    "queued": "queued", "ringing": "ringing", "in-progress": "in-progress",
    "completed": "completed", "busy": "busy", "no-answer": "no-answer",
    "failed": "failed", "canceled": "canceled",
}  # fmt: skip


MAX_NUMBER_PAGES = 20


class ExotelProvider(CarrierProvider):
    name: ClassVar[str] = "exotel"
    credential_fields: ClassVar[tuple[str, ...]] = ("account_sid", "api_key", "api_token")
    sample_rate: ClassVar[int] = 8000
    media_sample_rates: ClassVar[frozenset[int]] = wire.SAMPLE_RATES  # the handshake model's
    # Exotel's documented minimum chunk (3.2 kB of 8 kHz PCM), a multiple of 320 bytes
    media_out_chunk_ms: ClassVar[int] = 100
    capabilities: ClassVar[frozenset[Capability]] = frozenset()  # in-band DTMF; hang-up closes the stream

    @classmethod
    def credential_problems(cls, credentials: Mapping[str, Any]) -> dict[str, str]:
        if not _ACCOUNT_ID.fullmatch(str(credentials.get("account_sid", ""))):
            return {"account_sid": "letters, digits, - and _ only (at most 64)"}
        subdomain = credentials.get("subdomain")
        if subdomain and wire.api_host(str(subdomain)) is None:
            return {"subdomain": "must be one of Exotel's API hosts: " + ", ".join(sorted(wire.API_HOSTS))}
        return {}

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
        return bool(key and token) and (ascii_equal(key, user) & ascii_equal(token, password))

    def parse_inbound(self, body: bytes, headers: Mapping[str, str]) -> InboundCall:
        fields = form_fields(body)
        form = webhook_fields(wire.InboundForm, fields)
        to = form.CallTo or form.To
        if not to:
            raise WebhookRejected("CallTo is required")
        return InboundCall(form.CallSid, form.CallFrom or form.From, to, fields)

    def parse_status(self, body: bytes, headers: Mapping[str, str]) -> StatusUpdate:
        form = webhook_fields(wire.StatusForm, form_fields(body))
        raw = form.Status or form.CallStatus
        if not raw:
            raise WebhookRejected("Status is required")
        duration = form.ConversationDuration or form.Duration
        return StatusUpdate(form.CallSid, _STATUS.get(raw, "failed"), int(duration) if duration else None,
                            echoed_key=form.CustomField or None)  # fmt: skip

    def answer_markup(self, stream_url: str, params: Mapping[str, str]) -> tuple[str, str]:
        return "application/json", json.dumps({"url": with_query(stream_url, params)})

    def reject_markup(self, reason: str) -> tuple[str, str]:
        return "application/json", json.dumps({"error": reason})

    def parse_stream_start(self, messages: list[str | bytes], query: Mapping[str, str]) -> StreamStart | None:
        for message in messages:
            event = handshake_message(wire.HANDSHAKE, message)
            if isinstance(event, wire.ConnectedEvent):
                continue
            start = event.start
            stream_sid = start.stream_sid or event.stream_sid
            if not stream_sid:
                raise HandshakeInvalid("start.stream_sid: Field required")
            custom = {**query, **start.custom_parameters}
            rate = start.media_format.sample_rate
            return StreamStart(start.call_sid, stream_sid, custom, rate, "linear16", start.model_dump())
        return None

    def serializer(self, start: StreamStart) -> FrameSerializer:
        if start.sample_rate not in self.media_sample_rates:  # never build one for a bad rate
            raise HandshakeInvalid("unsupported sample rate")
        return ExotelFrameSerializer(
            stream_sid=start.stream_id,
            call_sid=start.carrier_call_id,
            params=ExotelFrameSerializer.InputParams(exotel_sample_rate=start.sample_rate),
        )

    # -- REST -----------------------------------------------------------------------------
    def _base(self) -> str:
        """The operator's ``EXOTEL_API_BASE_URL``, else the account's Exotel API host."""
        if self.api_base_url:
            return self.api_base_url.rstrip("/")
        host = wire.api_host(str(self.credentials.get("subdomain") or "api.exotel.com"))
        if host is None:  # stored before hosts were checked
            raise CarrierApiError("carrier_misconfigured", "subdomain is not an Exotel API host")
        return f"https://{host}"

    def _auth(self) -> tuple[str, str]:
        return str(self.credentials["api_key"]), str(self.credentials["api_token"])

    def _status_callback(self, url: str) -> str:
        """``url`` with the account's API key and token as user info, so Exotel's status
        callback authenticates with HTTP Basic like the applet's requests."""
        key, token = self._auth()
        parts = urlsplit(url)
        netloc = f"{quote(key, safe='')}:{quote(token, safe='')}@{parts.netloc.rpartition('@')[2]}"
        return urlunsplit(parts._replace(netloc=netloc))

    async def dial(self, request: DialRequest) -> str:
        sid = str(self.credentials["account_sid"])
        flow = f"http://my.exotel.com/{sid}/exoml/start_voice/{self.credentials.get('app_id', '')}"
        data: dict[str, Any] = {
            "From": request.to_number,
            "CallerId": request.from_number,
            "Url": flow,
            "StatusCallback": self._status_callback(request.status_url),
            "StatusCallbackEvents[0]": "terminal",
            "StatusCallbackEvents[1]": "answered",
        }
        if request.idempotency_key:  # no idempotent create: CustomField comes back in callbacks
            data["CustomField"] = request.idempotency_key
        url = f"{self._base()}/v1/Accounts/{quote(sid, safe='')}/Calls/connect.json"
        response = await send("POST", url, client=self.http_client, data=data, auth=self._auth())
        payload = json_of(check(response))
        try:
            return str(payload["Call"]["Sid"])
        except (KeyError, TypeError):
            raise CarrierApiError("carrier_rejected", "no Call.Sid in the response") from None

    async def account_has_number(self, number: str) -> bool:
        """The account's ExoPhones (``GET /v2_beta/Accounts/<sid>/IncomingPhoneNumbers``),
        following ``next_page_uri`` for at most ``MAX_NUMBER_PAGES`` pages."""
        sid = quote(str(self.credentials["account_sid"]), safe="")
        base = self._base()
        url: str | None = f"{base}/v2_beta/Accounts/{sid}/IncomingPhoneNumbers"
        for _ in range(MAX_NUMBER_PAGES):
            if url is None:
                break
            response = check(await send("GET", url, client=self.http_client, auth=self._auth()))
            try:
                page = wire.IncomingNumbers.model_validate(json_of(response))
            except ValueError:
                raise CarrierApiError("carrier_rejected", "unexpected IncomingPhoneNumbers shape") from None
            if any(_same_number(n.phone_number, number) for n in page.incoming_phone_numbers):
                return True
            url = f"{base}{page.next_page_uri}" if page.next_page_uri else None
        return False

    async def hangup(self, carrier_call_id: str) -> None:
        # No REST hang-up inside a Voicebot applet: the server closes the media websocket.
        return None


def _same_number(listed: str, number: str) -> bool:
    try:
        return normalize_e164(listed) == number
    except ValueError:
        return False
