"""Vonage carrier: signed-JWT webhooks, NCCO ``connect`` to a websocket endpoint (16 kHz
linear PCM), and the Voice API v1 for dialing and call control.

Credentials: ``application_id`` and ``private_key`` (PEM; RS256 JWTs for the REST API) and
``signature_secret`` (HS256 key Vonage signs webhooks with: the ``Authorization: Bearer``
JWT must verify and, when the request has a body, its ``payload_hash`` claim must equal the
SHA-256 of the body).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Mapping
from typing import Any, ClassVar

import httpx
import jwt
from pipecat.serializers.base_serializer import FrameSerializer
from pipecat.serializers.vonage import VonageFrameSerializer

from telephony.contract import (
    Capability,
    CarrierProvider,
    DialRequest,
    InboundCall,
    StatusUpdate,
    StreamStart,
    WebhookRejected,
)
from telephony.urls import parse_form

DEFAULT_API = "https://api.nexmo.com"
SAMPLE_RATE = 16000
_STATUS = {
    "started": "queued", "ringing": "ringing", "answered": "in-progress",
    "completed": "completed", "busy": "busy", "timeout": "no-answer",
    "unanswered": "no-answer", "failed": "failed", "rejected": "failed",
    "cancelled": "canceled",
}  # fmt: skip


def _payload(body: bytes) -> dict[str, Any]:
    """A Vonage webhook body: JSON (POST) or a query string (GET answer webhooks)."""
    try:
        if body.lstrip().startswith(b"{"):
            data = json.loads(body)
            if isinstance(data, dict):
                return data
            raise WebhookRejected("body is not a JSON object")
        return dict(parse_form(body))
    except ValueError as exc:
        raise WebhookRejected("malformed body") from exc


def _plus(number: str) -> str:
    return number if not number or number.startswith("+") else "+" + number


class VonageProvider(CarrierProvider):
    name: ClassVar[str] = "vonage"
    credential_fields: ClassVar[tuple[str, ...]] = (
        "application_id",
        "private_key",
        "signature_secret",
    )
    sample_rate: ClassVar[int] = SAMPLE_RATE
    capabilities: ClassVar[frozenset[Capability]] = frozenset(Capability)
    fixed_pipeline_rate: ClassVar[bool] = True  # the serializer resamples to sample_rate

    def verify_webhook(self, url: str, headers: Mapping[str, str], body: bytes) -> bool:
        auth = headers.get("authorization", "")
        secret = str(self.credentials.get("signature_secret") or "")
        if not auth.lower().startswith("bearer ") or not secret:
            return False
        try:
            claims = jwt.decode(auth[7:].strip(), secret, algorithms=["HS256"], options={"require": ["iat"]})
        except jwt.PyJWTError:
            return False
        if body:
            expected = hashlib.sha256(body).hexdigest()
            if not hmac.compare_digest(str(claims.get("payload_hash", "")), expected):
                return False
        return True

    def parse_inbound(self, body: bytes, headers: Mapping[str, str]) -> InboundCall:
        data = _payload(body)
        call_id, to = data.get("uuid"), data.get("to")
        if not call_id or not to:
            raise WebhookRejected("uuid and to are required")
        return InboundCall(str(call_id), _plus(str(data.get("from", ""))), _plus(str(to)), data)

    def parse_status(self, body: bytes, headers: Mapping[str, str]) -> StatusUpdate:
        data = _payload(body)
        call_id, raw = str(data.get("uuid") or ""), str(data.get("status") or "")
        if not call_id or not raw:
            raise WebhookRejected("uuid and status are required")
        if raw in ("human", "machine"):  # machine detection result
            return StatusUpdate(call_id, "in-progress", answered_by=raw)
        if raw not in _STATUS:
            raise WebhookRejected(f"ignored status {raw}")
        duration = str(data.get("duration") or "")
        return StatusUpdate(call_id, _STATUS[raw], int(duration) if duration.isdigit() else None)

    def answer_markup(self, stream_url: str, params: Mapping[str, str]) -> tuple[str, str]:
        ncco = [
            {
                "action": "connect",
                "endpoint": [
                    {
                        "type": "websocket",
                        "uri": stream_url,
                        "content-type": f"audio/l16;rate={SAMPLE_RATE}",
                        "headers": dict(params),
                    }
                ],
            }
        ]
        return "application/json", json.dumps(ncco)

    def reject_markup(self, reason: str) -> tuple[str, str]:
        text = "Sorry, we cannot take your call right now. Please try again later."
        return "application/json", json.dumps([{"action": "talk", "text": text}])

    def parse_stream_start(self, messages: list[str | bytes], query: Mapping[str, str]) -> StreamStart | None:
        for message in messages:
            if isinstance(message, bytes):
                raise ValueError("audio before websocket:connected")
            data = json.loads(message)
            if not isinstance(data, dict) or data.get("event") != "websocket:connected":
                raise ValueError("expected websocket:connected")
            content_type = str(data.get("content-type", ""))
            if not content_type.startswith("audio/l16"):
                raise ValueError(f"unsupported content-type {content_type}")
            rate = SAMPLE_RATE
            if "rate=" in content_type:
                rate = int(content_type.split("rate=")[1].split(";")[0])
            custom = dict(query)
            custom.update({k: str(v) for k, v in data.items() if isinstance(v, str | int)})
            call_id = str(data.get("call_uuid") or "")
            return StreamStart(call_id, call_id or "vonage", custom, rate, "linear16", data)
        return None

    def serializer(self, start: StreamStart) -> FrameSerializer:
        return VonageFrameSerializer(VonageFrameSerializer.InputParams(vonage_sample_rate=start.sample_rate))

    # -- Voice API ------------------------------------------------------------------------
    def _token(self) -> str:
        now = int(time.time())
        claims = {
            "application_id": str(self.credentials["application_id"]),
            "iat": now,
            "exp": now + 300,
            "jti": str(uuid.uuid4()),
        }
        return jwt.encode(claims, str(self.credentials["private_key"]), algorithm="RS256")

    async def _request(self, method: str, path: str, data: dict[str, Any]) -> dict[str, Any]:
        base = (self.api_base_url or DEFAULT_API).rstrip("/")
        headers = {"Authorization": f"Bearer {self._token()}"}
        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.request(method, f"{base}{path}", json=data, headers=headers)
        response.raise_for_status()
        return response.json() if response.content else {}

    async def dial(self, request: DialRequest) -> str:
        payload: dict[str, Any] = {
            "to": [{"type": "phone", "number": request.to_number.lstrip("+")}],
            "from": {"type": "phone", "number": request.from_number.lstrip("+")},
            "answer_url": [request.answer_url],
            "answer_method": "POST",
            "event_url": [request.status_url],
            "event_method": "POST",
        }
        if request.machine_detection:
            payload["machine_detection"] = "continue"
        data = await self._request("POST", "/v1/calls", payload)
        return str(data["uuid"])

    async def hangup(self, carrier_call_id: str) -> None:
        try:
            await self._request("PUT", f"/v1/calls/{carrier_call_id}", {"action": "hangup"})
        except httpx.HTTPStatusError as exc:
            if exc.response.status_code not in (400, 404):  # already ended
                raise

    async def transfer(self, carrier_call_id: str, to_number: str) -> None:
        ncco = [{"action": "connect",
                 "endpoint": [{"type": "phone", "number": to_number.lstrip("+")}]}]  # fmt: skip
        await self._request(
            "PUT",
            f"/v1/calls/{carrier_call_id}",
            {"action": "transfer", "destination": {"type": "ncco", "ncco": ncco}},
        )

    async def send_dtmf(self, carrier_call_id: str, digits: str) -> None:
        await self._request("PUT", f"/v1/calls/{carrier_call_id}/dtmf", {"digits": digits})

    async def leave_message(self, carrier_call_id: str, text: str) -> None:
        ncco = [{"action": "talk", "text": text}]
        await self._request(
            "PUT",
            f"/v1/calls/{carrier_call_id}",
            {"action": "transfer", "destination": {"type": "ncco", "ncco": ncco}},
        )
