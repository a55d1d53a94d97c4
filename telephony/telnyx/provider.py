"""Telnyx carrier: Ed25519-signed webhooks, TeXML markup for inbound calls, Call Control v2
for dialing and call control, Telnyx media streaming websockets.

Credentials: ``api_key`` (REST), ``public_key`` (base64 Ed25519 key from the portal, verifies
webhooks), ``connection_id`` (the Call Control application used for outbound calls).
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Mapping
from typing import Any, ClassVar
from xml.sax.saxutils import escape, quoteattr

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pipecat.serializers.base_serializer import FrameSerializer
from pipecat.serializers.telnyx import TelnyxFrameSerializer

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

DEFAULT_API = "https://api.telnyx.com"
SIGNATURE_TOLERANCE_SECONDS = 300

_XML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>'
_TEXML_STATUS = {
    "queued": "queued", "initiated": "queued", "ringing": "ringing",
    "in-progress": "in-progress", "completed": "completed", "busy": "busy",
    "no-answer": "no-answer", "failed": "failed", "canceled": "canceled",
}  # fmt: skip
_HANGUP_CAUSE = {
    "user_busy": "busy", "timeout": "no-answer", "no_answer": "no-answer",
    "originator_cancel": "canceled", "call_rejected": "failed",
    "unallocated_number": "failed",
}  # fmt: skip
_AMD = {"human": "human", "machine": "machine", "not_sure": "unknown"}


class TelnyxProvider(CarrierProvider):
    name: ClassVar[str] = "telnyx"
    credential_fields: ClassVar[tuple[str, ...]] = ("api_key", "public_key")
    sample_rate: ClassVar[int] = 8000
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.REST_HANGUP, Capability.TRANSFER, Capability.SEND_DTMF, Capability.MACHINE_DETECTION})  # noqa: E501
    streams_on_dial: ClassVar[bool] = True

    def verify_webhook(self, url: str, headers: Mapping[str, str], body: bytes) -> bool:
        signature = headers.get("telnyx-signature-ed25519", "")
        timestamp = headers.get("telnyx-timestamp", "")
        if not signature or not timestamp.isdigit():
            return False
        if abs(time.time() - int(timestamp)) > SIGNATURE_TOLERANCE_SECONDS:
            return False
        try:
            key = Ed25519PublicKey.from_public_bytes(
                base64.b64decode(str(self.credentials.get("public_key", "")))
            )
            key.verify(base64.b64decode(signature), timestamp.encode() + b"|" + body)
        except (InvalidSignature, ValueError):
            return False
        return True

    @staticmethod
    def _event(body: bytes) -> tuple[str, dict[str, Any]] | None:
        """A Call Control JSON event (type, payload), or None for a TeXML form body."""
        if not body.lstrip().startswith(b"{"):
            return None
        try:
            data = json.loads(body)["data"]
            return str(data["event_type"]), dict(data["payload"])
        except (ValueError, KeyError, TypeError) as exc:
            raise WebhookRejected("malformed Telnyx event") from exc

    def parse_inbound(self, body: bytes, headers: Mapping[str, str]) -> InboundCall:
        event = self._event(body)
        if event is not None:
            payload = event[1]
            call_id, to = payload.get("call_control_id"), payload.get("to")
            if not call_id or not to:
                raise WebhookRejected("call_control_id and to are required")
            return InboundCall(str(call_id), str(payload.get("from", "")), str(to), payload)
        try:
            form = parse_form(body)
        except ValueError as exc:
            raise WebhookRejected("body is not UTF-8") from exc
        call_id, to = form.get("CallSid"), form.get("To")
        if not call_id or not to:
            raise WebhookRejected("CallSid and To are required")
        return InboundCall(call_id, form.get("From", ""), to, form)

    def parse_status(self, body: bytes, headers: Mapping[str, str]) -> StatusUpdate:
        event = self._event(body)
        if event is None:
            try:
                form = parse_form(body)
            except ValueError as exc:
                raise WebhookRejected("body is not UTF-8") from exc
            if not form.get("CallSid") or not form.get("CallStatus"):
                raise WebhookRejected("CallSid and CallStatus are required")
            duration = form.get("CallDuration", "")
            return StatusUpdate(
                form["CallSid"],
                _TEXML_STATUS.get(form["CallStatus"], "failed"),
                int(duration) if duration.isdigit() else None,
            )
        kind, payload = event
        call_id = str(payload.get("call_control_id") or "")
        if not call_id:
            raise WebhookRejected("call_control_id is required")
        if kind == "call.initiated":
            return StatusUpdate(call_id, "queued")
        if kind in ("call.answered", "call.bridged", "call.streaming.started"):
            return StatusUpdate(call_id, "in-progress")
        if kind == "call.hangup":
            cause = str(payload.get("hangup_cause") or "normal_clearing")
            return StatusUpdate(call_id, _HANGUP_CAUSE.get(cause, "completed"))
        if kind.startswith("call.machine") and kind.endswith("detection.ended"):
            answered = _AMD.get(str(payload.get("result")), "unknown")
            return StatusUpdate(call_id, "in-progress", answered_by=answered)
        raise WebhookRejected(f"ignored event {kind}")

    def answer_markup(self, stream_url: str, params: Mapping[str, str]) -> tuple[str, str]:
        url = quoteattr(with_query(stream_url, params))
        return "application/xml", (
            '<?xml version="1.0" encoding="UTF-8"?><Response><Connect>'
            f'<Stream url={url} bidirectionalMode="rtp" bidirectionalCodec="PCMU"/>'
            "</Connect></Response>"
        )

    def reject_markup(self, reason: str) -> tuple[str, str]:
        if reason == "unavailable":
            inner = f"<Say>{escape('Sorry, we cannot take your call right now.')}</Say><Hangup/>"
        else:
            inner = f"<Reject reason={quoteattr('busy' if reason == 'busy' else 'rejected')}/>"
        return "application/xml", f"{_XML_HEAD}<Response>{inner}</Response>"

    def parse_stream_start(self, messages: list[str | bytes], query: Mapping[str, str]) -> StreamStart | None:
        for message in messages:
            data = json.loads(message)
            if not isinstance(data, dict):
                raise ValueError("message is not a JSON object")
            event = data.get("event")
            if event == "connected":
                continue
            if event != "start" or not isinstance(data.get("start"), dict):
                raise ValueError(f"expected a start event, got {event!r}")
            start = data["start"]
            fmt = start.get("media_format") or {}
            encoding = str(fmt.get("encoding", "PCMU")).upper()
            if encoding not in ("PCMU", "PCMA"):
                raise ValueError(f"unsupported encoding {encoding}")
            stream_id = str(data.get("stream_id") or "")
            call_id = str(start.get("call_control_id") or "")
            if not stream_id or not call_id:
                raise ValueError("start event without stream_id/call_control_id")
            custom = dict(query)
            extra = start.get("custom_parameters") or {}
            custom.update({str(k): str(v) for k, v in extra.items()})
            return StreamStart(
                call_id, stream_id, custom, int(fmt.get("sample_rate") or 8000), encoding, start
            )
        return None

    def serializer(self, start: StreamStart) -> FrameSerializer:
        return TelnyxFrameSerializer(
            stream_id=start.stream_id,
            outbound_encoding=start.encoding,
            inbound_encoding=start.encoding,
            params=TelnyxFrameSerializer.InputParams(
                telnyx_sample_rate=start.sample_rate, auto_hang_up=False
            ),
        )

    # -- Call Control REST ----------------------------------------------------------------
    async def _post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        base = (self.api_base_url or DEFAULT_API).rstrip("/")
        headers = {"Authorization": f"Bearer {self.credentials['api_key']}"}
        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.post(f"{base}{path}", json=payload, headers=headers)
        if response.status_code == 422 and "90018" in response.text:
            return {}  # call already ended
        response.raise_for_status()
        return response.json() if response.content else {}

    async def dial(self, request: DialRequest) -> str:
        payload: dict[str, Any] = {
            "connection_id": self.credentials.get("connection_id"),
            "to": request.to_number,
            "from": request.from_number,
            "webhook_url": request.status_url,
            "webhook_url_method": "POST",
        }
        if request.stream_url:
            payload.update(
                stream_url=request.stream_url,
                stream_track="inbound_track",
                stream_bidirectional_mode="rtp",
                stream_bidirectional_codec="PCMU",
            )
        if request.machine_detection:
            payload["answering_machine_detection"] = "detect"
        data = await self._post("/v2/calls", payload)
        return str(data["data"]["call_control_id"])

    async def hangup(self, carrier_call_id: str) -> None:
        await self._post(f"/v2/calls/{carrier_call_id}/actions/hangup", {})

    async def transfer(self, carrier_call_id: str, to_number: str) -> None:
        await self._post(f"/v2/calls/{carrier_call_id}/actions/transfer", {"to": to_number})

    async def send_dtmf(self, carrier_call_id: str, digits: str) -> None:
        await self._post(f"/v2/calls/{carrier_call_id}/actions/send_dtmf", {"digits": digits})
