"""Telnyx carrier: Ed25519-signed webhooks, TeXML markup for inbound calls, Call Control v2
for dialing and call control, Telnyx media streaming websockets.

Credentials: ``api_key`` (REST), ``public_key`` (base64 Ed25519 key from the portal, verifies
webhooks), ``connection_id`` (the Call Control application used for outbound calls).
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, ClassVar
from xml.sax.saxutils import escape, quoteattr

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pipecat.serializers.base_serializer import FrameSerializer
from pipecat.serializers.telnyx import TelnyxFrameSerializer

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
from telephony.fields import form_fields, handshake_message, webhook_fields, webhook_json
from telephony.rest import check, json_of, send
from telephony.telnyx import wire
from telephony.urls import with_query

DEFAULT_API = "https://api.telnyx.com"
SIGNATURE_TOLERANCE_SECONDS = 300
_TIMESTAMP = re.compile(r"[0-9]{1,12}")

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
    media_sample_rates: ClassVar[frozenset[int]] = wire.SAMPLE_RATES  # the handshake model's
    media_out_chunk_ms: ClassVar[int] = 100  # RTP media chunks may hold 20 ms to 30 s
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.REST_HANGUP, Capability.TRANSFER, Capability.SEND_DTMF, Capability.MACHINE_DETECTION})  # noqa: E501
    streams_on_dial: ClassVar[bool] = True

    def verify_webhook(self, url: str, headers: Mapping[str, str], body: bytes) -> bool:
        signature = headers.get("telnyx-signature-ed25519", "")
        timestamp = headers.get("telnyx-timestamp", "")
        if not signature or not _TIMESTAMP.fullmatch(timestamp):  # ASCII digits, bounded
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

    def replay_key(self, url: str, headers: Mapping[str, str], body: bytes) -> ReplayKey | None:
        """The Ed25519 signature: one signed request is accepted once while its timestamp
        is inside the window (up to 300 s ahead or behind: remembered 600 s)."""
        signature = headers.get("telnyx-signature-ed25519", "")
        digest = hashlib.sha256(signature.encode("utf-8", "replace")).hexdigest()
        return ReplayKey(f"telnyx:{digest}", 2 * SIGNATURE_TOLERANCE_SECONDS)

    @staticmethod
    def _event(body: bytes) -> tuple[str, wire.Payload] | None:
        """A Call Control JSON event (type, payload), or None for a TeXML form body."""
        if not body.lstrip().startswith(b"{"):
            return None
        event = webhook_json(wire.Event, body)
        return event.data.event_type, event.data.payload

    def parse_inbound(self, body: bytes, headers: Mapping[str, str]) -> InboundCall:
        event = self._event(body)
        if event is not None:
            payload = event[1]
            if not payload.call_control_id or not payload.to:
                raise WebhookRejected("call_control_id and to are required")
            raw = payload.model_dump(by_alias=True)
            return InboundCall(payload.call_control_id, payload.from_, payload.to, raw)
        fields = form_fields(body)
        form = webhook_fields(wire.TexmlInbound, fields)
        return InboundCall(form.CallSid, form.From, form.To, fields)

    def parse_status(self, body: bytes, headers: Mapping[str, str]) -> StatusUpdate:
        event = self._event(body)
        if event is None:
            form = webhook_fields(wire.TexmlStatus, form_fields(body))
            return StatusUpdate(
                form.CallSid,
                _TEXML_STATUS.get(form.CallStatus, "failed"),
                int(form.CallDuration) if form.CallDuration else None,
            )
        kind, payload = event
        update = self._status_of(kind, payload)
        return replace(update, echoed_key=_client_state(payload.client_state))

    def _status_of(self, kind: str, payload: wire.Payload) -> StatusUpdate:
        call_id = payload.call_control_id
        if not call_id:
            raise WebhookRejected("call_control_id is required")
        if kind == "call.initiated":
            return StatusUpdate(call_id, "queued")
        if kind in ("call.answered", "call.bridged", "call.streaming.started"):
            return StatusUpdate(call_id, "in-progress")
        if kind == "call.hangup":
            cause = payload.hangup_cause or "normal_clearing"
            return StatusUpdate(call_id, _HANGUP_CAUSE.get(cause, "completed"))
        if kind.startswith("call.machine") and kind.endswith("detection.ended"):
            answered = _AMD.get(payload.result, "unknown")
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
            event = handshake_message(wire.HANDSHAKE, message)
            if isinstance(event, wire.ConnectedEvent):
                continue
            start = event.start
            custom = dict(query)
            custom.update(start.custom_parameters)
            fmt = start.media_format
            return StreamStart(
                start.call_control_id, event.stream_id, custom, fmt.sample_rate, fmt.encoding,
                start.model_dump(),
            )
        return None

    def serializer(self, start: StreamStart) -> FrameSerializer:
        if start.sample_rate not in self.media_sample_rates:  # never build one for a bad rate
            raise HandshakeInvalid("unsupported sample rate")
        return TelnyxFrameSerializer(
            stream_id=start.stream_id,
            outbound_encoding=start.encoding,
            inbound_encoding=start.encoding,
            params=TelnyxFrameSerializer.InputParams(
                telnyx_sample_rate=start.sample_rate, auto_hang_up=False
            ),
        )

    # -- Call Control REST ----------------------------------------------------------------
    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.credentials['api_key']}"}

    def _base(self) -> str:
        return (self.api_base_url or DEFAULT_API).rstrip("/")

    async def _post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        response = await send("POST", f"{self._base()}{path}", client=self.http_client, json=payload,
                              headers=self._headers())
        if response.status_code == 422 and "90018" in response.text:
            return {}  # call already ended
        data = json_of(check(response))
        return data if isinstance(data, dict) else {}

    async def account_has_number(self, number: str) -> bool:
        """``GET /v2/phone_numbers?filter[phone_number]=<e164>`` lists it for this API key."""
        response = await send(
            "GET", f"{self._base()}/v2/phone_numbers", client=self.http_client, headers=self._headers(),
            params={"filter[phone_number]": number},
        )  # fmt: skip
        data = json_of(check(response))
        listed = data.get("data") if isinstance(data, dict) else None
        return isinstance(listed, list) and any(
            isinstance(n, dict) and n.get("phone_number") == number for n in listed
        )

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
        if request.idempotency_key:
            # Dial's command_id: Telnyx ignores other Dial commands with the same id (its
            # answer to one is not documented to be the first call, so no re-send relies on
            # it); client_state comes back in every webhook of the call
            payload["command_id"] = request.idempotency_key
            payload["client_state"] = base64.b64encode(request.idempotency_key.encode()).decode()
        data = await self._post("/v2/calls", payload)
        try:
            return str(data["data"]["call_control_id"])
        except (KeyError, TypeError):
            raise CarrierApiError("carrier_rejected", "no call_control_id in the response") from None

    async def hangup(self, carrier_call_id: str) -> None:
        await self._post(f"/v2/calls/{carrier_call_id}/actions/hangup", {})

    async def transfer(self, carrier_call_id: str, to_number: str) -> None:
        await self._post(f"/v2/calls/{carrier_call_id}/actions/transfer", {"to": to_number})

    async def send_dtmf(self, carrier_call_id: str, digits: str) -> None:
        await self._post(f"/v2/calls/{carrier_call_id}/actions/send_dtmf", {"digits": digits})


def _client_state(value: str) -> str | None:
    """The dial's idempotency key from a webhook's ``client_state`` (None when absent or not
    what a dial of ours sent)."""
    if not value:
        return None
    try:
        return base64.b64decode(value, validate=True).decode("ascii")
    except (ValueError, UnicodeDecodeError):
        return None
