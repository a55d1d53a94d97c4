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
import json
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlsplit, urlunsplit
from xml.sax.saxutils import escape, quoteattr

import httpx
from pipecat.serializers.base_serializer import FrameSerializer
from pipecat.serializers.plivo import PlivoFrameSerializer

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

DEFAULT_API = "https://api.plivo.com"
_XML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>'
_SORRY = "Sorry, we cannot take your call right now."
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
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.REST_HANGUP, Capability.SEND_DTMF, Capability.MACHINE_DETECTION})  # noqa: E501

    def verify_webhook(self, url: str, headers: Mapping[str, str], body: bytes) -> bool:
        signature = headers.get("x-plivo-signature-v3", "")
        nonce = headers.get("x-plivo-signature-v3-nonce", "")
        token = str(self.credentials.get("auth_token") or "")
        if not signature or not nonce or not token:
            return False
        try:
            params = parse_qsl(body.decode("utf-8"), keep_blank_values=True)
        except UnicodeDecodeError:
            return False
        method = "POST" if body else "GET"
        expected = v3_signature(token, method, url, params, nonce)
        return any(hmac.compare_digest(expected, s.strip()) for s in signature.split(","))

    @staticmethod
    def _form(body: bytes) -> dict[str, str]:
        try:
            return parse_form(body)
        except ValueError as exc:
            raise WebhookRejected("body is not UTF-8") from exc

    def parse_inbound(self, body: bytes, headers: Mapping[str, str]) -> InboundCall:
        form = self._form(body)
        call_id, to = form.get("CallUUID"), form.get("To")
        if not call_id or not to:
            raise WebhookRejected("CallUUID and To are required")
        return InboundCall(call_id, _plus(form.get("From", "")), _plus(to), form)

    def parse_status(self, body: bytes, headers: Mapping[str, str]) -> StatusUpdate:
        form = self._form(body)
        call_id = form.get("CallUUID") or form.get("RequestUUID")
        if not call_id:
            raise WebhookRejected("CallUUID is required")
        answered_by = None
        if "Machine" in form:  # machine detection callback
            answered_by = "machine" if form["Machine"].lower() == "true" else "human"
        raw = form.get("CallStatus") or form.get("Event", "")
        if not raw and answered_by is None:
            raise WebhookRejected("CallStatus is required")
        status = _STATUS.get(raw.lower(), "in-progress" if answered_by else "failed")
        duration = form.get("Duration", "")
        return StatusUpdate(call_id, status, int(duration) if duration.isdigit() else None, answered_by)

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
            data = json.loads(message)
            if not isinstance(data, dict) or data.get("event") != "start":
                raise ValueError("expected a start event")
            start = data.get("start")
            if not isinstance(start, dict):
                raise ValueError("start event without a start object")
            fmt = start.get("mediaFormat") or {}
            if fmt.get("encoding", "audio/x-mulaw") != "audio/x-mulaw":
                raise ValueError("unsupported encoding")
            call_id, stream_id = str(start.get("callId") or ""), str(start.get("streamId") or "")
            if not call_id or not stream_id:
                raise ValueError("start event without callId/streamId")
            rate = int(fmt.get("sampleRate") or 8000)
            return StreamStart(call_id, stream_id, dict(query), rate, "mulaw", start)
        return None

    def serializer(self, start: StreamStart) -> FrameSerializer:
        return PlivoFrameSerializer(
            stream_id=start.stream_id,
            call_id=start.carrier_call_id,
            params=PlivoFrameSerializer.InputParams(plivo_sample_rate=start.sample_rate, auto_hang_up=False),
        )

    # -- REST -----------------------------------------------------------------------------
    async def _request(self, method: str, path: str, data: dict[str, Any] | None = None) -> Any:
        base = (self.api_base_url or DEFAULT_API).rstrip("/")
        auth_id = str(self.credentials["auth_id"])
        url = f"{base}/v1/Account/{auth_id}{path}"
        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.request(
                method, url, json=data, auth=(auth_id, str(self.credentials["auth_token"]))
            )
        if method == "DELETE" and response.status_code == 404:
            return {}  # already ended
        response.raise_for_status()
        return response.json() if response.content else {}

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
        uuid = data.get("request_uuid")
        return str(uuid[0] if isinstance(uuid, list) else uuid)

    async def hangup(self, carrier_call_id: str) -> None:
        await self._request("DELETE", f"/Call/{carrier_call_id}/")

    async def send_dtmf(self, carrier_call_id: str, digits: str) -> None:
        await self._request("POST", f"/Call/{carrier_call_id}/DTMF/", {"digits": digits})


def _plus(number: str) -> str:
    """Plivo sends numbers without the leading ``+``."""
    return number if not number or number.startswith("+") else "+" + number
