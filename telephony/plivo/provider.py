"""Plivo carrier: V3 webhook signatures, Plivo XML ``<Stream>``, audio streaming websockets
and the Call REST API.

Credentials: ``auth_id`` and ``auth_token``.

V3 signature (as Plivo documents it): the header ``X-Plivo-Signature-V3`` holds
base64(HMAC-SHA256(auth_token, S + "." + nonce)) where ``nonce`` is
``X-Plivo-Signature-V3-Nonce`` and, for a POST, S is the URL without its query, then
``?`` + the URL's query parameters sorted (``k=v`` joined by ``&``) and ``.`` when both
exist, then the POST parameters sorted by name concatenated as ``namevalue``. For a GET the
POST part is absent. The header may list several comma-separated signatures.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit
from xml.sax.saxutils import escape, quoteattr

from pipecat.serializers.base_serializer import FrameSerializer
from pipecat.serializers.plivo import PlivoFrameSerializer

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
from telephony.fields import ascii_equal, form_fields, handshake_message, webhook_fields
from telephony.plivo import wire
from telephony.rest import check, json_of, send
from telephony.urls import with_query

DEFAULT_API = "https://api.plivo.com"
# V3 signatures carry no timestamp: how long a seen nonce is remembered
REPLAY_WINDOW_SECONDS = 24 * 3600
_XML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>'
_SORRY = "Sorry, we cannot take your call right now."
_ACCOUNT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")  # becomes a URL path segment
_STATUS = {
    "queued": "queued", "ringing": "ringing", "early media": "ringing",
    "in-progress": "in-progress", "answered": "in-progress", "completed": "completed",
    "busy": "busy", "no-answer": "no-answer", "timeout": "no-answer", "failed": "failed",
    "cancel": "canceled", "canceled": "canceled", "hangup": "completed",
}  # fmt: skip


def _sorted_query(pairs: list[tuple[str, str]]) -> str:
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


def v3_signed_string(method: str, url: str, params: list[tuple[str, str]]) -> str:
    """The string Plivo signs (before ``.nonce``)."""
    parts = urlsplit(url)
    base = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    query = parse_qsl(parts.query, keep_blank_values=True)
    if method.upper() == "GET":
        merged = _sorted_query(query + params)
        return base + ("?" + merged if merged else "")
    query_string = _sorted_query(query)
    if query_string or params:
        base += "?" + query_string
    if query_string and params:
        base += "."
    return base + "".join(f"{k}{v}" for k, v in sorted(params))


def v3_signature(auth_token: str, method: str, url: str, params: list[tuple[str, str]],
                 nonce: str) -> str:  # fmt: skip
    message = f"{v3_signed_string(method, url, params)}.{nonce}".encode()
    digest = hmac.new(auth_token.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class PlivoProvider(CarrierProvider):
    name: ClassVar[str] = "plivo"
    credential_fields: ClassVar[tuple[str, ...]] = ("auth_id", "auth_token")
    sample_rate: ClassVar[int] = 8000
    media_sample_rates: ClassVar[frozenset[int]] = wire.SAMPLE_RATES  # the handshake model's
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.REST_HANGUP, Capability.SEND_DTMF, Capability.MACHINE_DETECTION})  # noqa: E501
    signature_binds_url: ClassVar[bool] = True  # X-Plivo-Signature-V3: URL + params + nonce

    @classmethod
    def credential_problems(cls, credentials: Mapping[str, Any]) -> dict[str, str]:
        if not _ACCOUNT_ID.fullmatch(str(credentials.get("auth_id", ""))):
            return {"auth_id": "letters, digits, - and _ only (at most 64)"}
        return {}

    def verify_webhook(self, url: str, headers: Mapping[str, str], body: bytes) -> bool:
        signature = headers.get("x-plivo-signature-v3", "")
        nonce = headers.get("x-plivo-signature-v3-nonce", "")
        token = str(self.credentials.get("auth_token") or "")
        if not signature or not nonce or not token or len(nonce) > 128:
            return False
        try:
            params = parse_qsl(body.decode("utf-8"), keep_blank_values=True)
        except UnicodeDecodeError:
            return False
        method = "POST" if body else "GET"
        expected = v3_signature(token, method, url, params, nonce)
        return any(ascii_equal(expected, s.strip()) for s in signature.split(",")[:8])

    def replay_key(self, url: str, headers: Mapping[str, str], body: bytes) -> ReplayKey | None:
        """The nonce: Plivo sends a fresh one per request. V3 signs no timestamp, so a
        signed request verifies forever: its nonce is remembered ``REPLAY_WINDOW_SECONDS``."""
        nonce = headers.get("x-plivo-signature-v3-nonce", "")
        digest = hashlib.sha256(nonce.encode("utf-8", "replace")).hexdigest()
        return ReplayKey(f"plivo:{digest}", REPLAY_WINDOW_SECONDS)

    def parse_inbound(self, body: bytes, headers: Mapping[str, str]) -> InboundCall:
        fields = form_fields(body)
        form = webhook_fields(wire.InboundForm, fields)
        return InboundCall(form.CallUUID, _plus(form.From), _plus(form.To), fields)

    def parse_status(self, body: bytes, headers: Mapping[str, str]) -> StatusUpdate:
        form = webhook_fields(wire.StatusForm, form_fields(body))
        call_id = form.CallUUID or form.RequestUUID
        if not call_id:
            raise WebhookRejected("CallUUID is required")
        answered_by = None
        if form.Machine is not None:  # machine detection callback
            answered_by = "machine" if form.Machine.lower() == "true" else "human"
        raw = form.CallStatus or form.Event
        if not raw and answered_by is None:
            raise WebhookRejected("CallStatus is required")
        status = _STATUS.get(raw.lower(), "in-progress" if answered_by else "failed")
        duration = int(form.Duration) if form.Duration else None
        return StatusUpdate(call_id, status, duration, answered_by)

    def answer_markup(self, stream_url: str, params: Mapping[str, str]) -> tuple[str, str]:
        url = escape(with_query(stream_url, params))
        return "application/xml", (
            '<?xml version="1.0" encoding="UTF-8"?><Response>'
            '<Stream bidirectional="true" keepCallAlive="true" '
            f'contentType="audio/x-mulaw;rate=8000">{url}</Stream></Response>'
        )

    def reject_markup(self, reason: str) -> tuple[str, str]:
        if reason == "unavailable":
            inner = f"<Speak>{escape(_SORRY)}</Speak><Hangup/>"
        else:
            inner = f"<Hangup reason={quoteattr('busy' if reason == 'busy' else 'rejected')}/>"
        return "application/xml", f"{_XML_HEAD}<Response>{inner}</Response>"

    def parse_stream_start(self, messages: list[str | bytes], query: Mapping[str, str]) -> StreamStart | None:
        for message in messages:
            start = handshake_message(wire.HANDSHAKE, message).start
            rate = start.mediaFormat.sampleRate
            return StreamStart(start.callId, start.streamId, dict(query), rate, "mulaw", start.model_dump())
        return None

    def serializer(self, start: StreamStart) -> FrameSerializer:
        if start.sample_rate not in self.media_sample_rates:  # never build one for a bad rate
            raise HandshakeInvalid("unsupported sample rate")
        return PlivoFrameSerializer(
            stream_id=start.stream_id,
            call_id=start.carrier_call_id,
            params=PlivoFrameSerializer.InputParams(plivo_sample_rate=start.sample_rate, auto_hang_up=False),
        )

    # -- REST -----------------------------------------------------------------------------
    async def _request(self, method: str, path: str, data: dict[str, Any] | None = None) -> Any:
        base = (self.api_base_url or DEFAULT_API).rstrip("/")
        auth_id = str(self.credentials["auth_id"])
        url = f"{base}/v1/Account/{quote(auth_id, safe='')}{path}"
        response = await send(method, url, client=self.http_client, json=data,
                              auth=(auth_id, str(self.credentials["auth_token"])))
        if method == "DELETE" and response.status_code == 404:
            return {}  # already ended
        return json_of(check(response))

    async def account_has_number(self, number: str) -> bool:
        """``GET /v1/Account/<auth_id>/Number/<number>/``: 200 when the account rents it."""
        try:
            data = await self._request("GET", f"/Number/{quote(number.lstrip('+'), safe='')}/")
        except CarrierApiError as exc:
            if exc.status == 404:
                return False
            raise
        return isinstance(data, dict) and _plus(str(data.get("number", ""))) == number

    async def dial(self, request: DialRequest) -> str:
        payload: dict[str, Any] = {
            "from": request.from_number.lstrip("+"),
            "to": request.to_number.lstrip("+"),
            "answer_url": request.answer_url,
            "answer_method": "POST",
            "hangup_url": request.status_url,
            "hangup_method": "POST",
            "ring_url": request.status_url,
            "ring_method": "POST",
        }
        if request.machine_detection:
            payload.update(
                machine_detection="true",
                machine_detection_url=request.status_url,
                machine_detection_method="POST",
            )
        data = await self._request("POST", "/Call/", payload)
        uuid = data.get("request_uuid") if isinstance(data, dict) else None
        if isinstance(uuid, list):
            uuid = uuid[0] if uuid else None
        if not uuid:
            raise CarrierApiError("carrier_rejected", "no request_uuid in the response")
        return str(uuid)

    async def hangup(self, carrier_call_id: str) -> None:
        await self._request("DELETE", f"/Call/{carrier_call_id}/")

    async def send_dtmf(self, carrier_call_id: str, digits: str) -> None:
        await self._request("POST", f"/Call/{carrier_call_id}/DTMF/", {"digits": digits})


def _plus(number: str) -> str:
    """Plivo sends numbers without the leading ``+``."""
    return number if not number or number.startswith("+") else "+" + number
