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
from urllib.parse import parse_qsl, urlsplit

import jwt
from pipecat.serializers.base_serializer import FrameSerializer
from pipecat.serializers.vonage import VonageFrameSerializer

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
    UnsupportedOperation,
    WebhookRejected,
)
from telephony.fields import ascii_equal, form_fields, handshake_message, webhook_fields, webhook_json
from telephony.rest import check, json_of, send
from telephony.urls import with_query
from telephony.vonage import wire

DEFAULT_API = "https://api.nexmo.com"
NUMBERS_API = "https://rest.nexmo.com"
SAMPLE_RATE = 16000
# a signed webhook's JWT is accepted this long after its ``iat`` (and once: ``replay_key``)
SIGNATURE_WINDOW_SECONDS = 300
CLOCK_SKEW_SECONDS = 60
# the query parameter of our callback URLs that names the call, and our MAC of it
BOUND_PARAM, MAC_PARAM = "call", "sb_mac"
_STATUS = {
    "started": "queued", "ringing": "ringing", "answered": "in-progress",
    "completed": "completed", "busy": "busy", "timeout": "no-answer",
    "unanswered": "no-answer", "failed": "failed", "rejected": "failed",
    "cancelled": "canceled",
}  # fmt: skip


def _payload(body: bytes) -> wire.Webhook:
    """A Vonage webhook body: JSON (POST) or a query string (GET answer webhooks)."""
    if body.lstrip().startswith(b"{"):
        return webhook_json(wire.Webhook, body)
    return webhook_fields(wire.Webhook, form_fields(body))


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
    media_sample_rates: ClassVar[frozenset[int]] = wire.SAMPLE_RATES  # the handshake model's
    media_out_chunk_ms: ClassVar[int] = 20  # the Voice API websocket's audio: one 20 ms frame a message
    capabilities: ClassVar[frozenset[Capability]] = frozenset(Capability)
    fixed_pipeline_rate: ClassVar[bool] = True  # the serializer resamples to sample_rate

    def verify_webhook(self, url: str, headers: Mapping[str, str], body: bytes) -> bool:
        """The ``Authorization: Bearer`` JWT must verify with the signature secret, be fresh
        (``iat`` within ``SIGNATURE_WINDOW_SECONDS``), name this application when it names
        one, and carry the body's SHA-256 as ``payload_hash`` when there is a body. A GET
        webhook's query string is not covered by Vonage's signature (Vonage hashes bodies
        only): the ``call`` parameter of the URLs we hand Vonage carries our own MAC
        (``sb_mac``); anything else Vonage adds to a GET is bound only by the JWT's
        freshness and single use (``replay_key``)."""
        claims = self._claims(headers)
        if claims is None:
            return False
        iat = claims.get("iat")
        if not isinstance(iat, int | float) or isinstance(iat, bool):
            return False
        now = time.time()
        if not (now - SIGNATURE_WINDOW_SECONDS <= iat <= now + CLOCK_SKEW_SECONDS):
            return False
        if not self._query_bound(url):
            return False
        app = claims.get("application_id")
        if app is not None and str(app) != str(self.credentials.get("application_id") or ""):
            return False
        if body:
            expected = hashlib.sha256(body).hexdigest()
            if not ascii_equal(expected, str(claims.get("payload_hash", ""))):
                return False
        return True

    def _query_mac(self, value: str) -> str:
        secret = str(self.credentials.get("signature_secret") or "")
        message = f"{BOUND_PARAM}={value}".encode()
        return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:32]

    def _bind(self, url: str) -> str:
        """``url`` with our MAC of its ``call`` parameter (the URLs we hand Vonage)."""
        values = [v for k, v in parse_qsl(urlsplit(url).query) if k == BOUND_PARAM]
        return with_query(url, {MAC_PARAM: self._query_mac(values[0])}) if values else url

    def _query_bound(self, url: str) -> bool:
        """A URL carrying ``call`` must carry exactly one, with our MAC: Vonage's JWT does
        not cover query strings, so the call a callback names is bound by us."""
        query = parse_qsl(urlsplit(url).query, keep_blank_values=True)
        bound = [v for k, v in query if k == BOUND_PARAM]
        if not bound:
            return True
        macs = [v for k, v in query if k == MAC_PARAM]
        return len(bound) == 1 and len(macs) == 1 and ascii_equal(self._query_mac(bound[0]), macs[0])

    def _claims(self, headers: Mapping[str, str]) -> dict[str, Any] | None:
        auth = headers.get("authorization", "")
        secret = str(self.credentials.get("signature_secret") or "")
        if not auth.lower().startswith("bearer ") or not secret:
            return None
        try:
            return jwt.decode(auth[7:].strip(), secret, algorithms=["HS256"], options={"require": ["iat"]})
        except jwt.PyJWTError:
            return None

    def replay_key(self, url: str, headers: Mapping[str, str], body: bytes) -> ReplayKey | None:
        """The JWT's ``jti`` (else the whole token): accepted once while ``iat`` is fresh."""
        claims = self._claims(headers) or {}
        ident = str(claims.get("jti") or headers.get("authorization", ""))
        digest = hashlib.sha256(ident.encode("utf-8", "replace")).hexdigest()
        return ReplayKey(f"vonage:{digest}", SIGNATURE_WINDOW_SECONDS + CLOCK_SKEW_SECONDS)

    def parse_inbound(self, body: bytes, headers: Mapping[str, str]) -> InboundCall:
        data = _payload(body)
        if not data.uuid or not data.to:
            raise WebhookRejected("uuid and to are required")
        raw = data.model_dump(by_alias=True)
        return InboundCall(data.uuid, _plus(data.from_), _plus(data.to), raw)

    def parse_status(self, body: bytes, headers: Mapping[str, str]) -> StatusUpdate:
        data = _payload(body)
        call_id, raw = data.uuid, data.status
        if not call_id or not raw:
            raise WebhookRejected("uuid and status are required")
        if raw in ("human", "machine"):  # machine detection result
            return StatusUpdate(call_id, "in-progress", answered_by=raw)
        if raw not in _STATUS:
            raise WebhookRejected(f"ignored status {raw}")
        return StatusUpdate(call_id, _STATUS[raw], int(data.duration) if data.duration else None)

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
            if not isinstance(message, str):
                raise HandshakeInvalid("audio before websocket:connected")
            connected = handshake_message(wire.HANDSHAKE, message)
            try:
                custom = {**query, **connected.headers()}
            except ValueError as exc:
                raise HandshakeInvalid(str(exc)) from None
            call_id = connected.call_uuid or ""
            raw = {"content-type": connected.content_type}
            return StreamStart(call_id, call_id or "vonage", custom, connected.sample_rate, "linear16", raw)
        return None

    def serializer(self, start: StreamStart) -> FrameSerializer:
        if start.sample_rate not in self.media_sample_rates:  # never build one for a bad rate
            raise HandshakeInvalid("unsupported sample rate")
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

    def _base(self) -> str:
        return (self.api_base_url or DEFAULT_API).rstrip("/")

    async def _request(self, method: str, path: str, data: dict[str, Any]) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self._token()}"}
        response = await send(method, f"{self._base()}{path}", client=self.http_client, json=data,
                              headers=headers)
        payload = json_of(check(response))
        return payload if isinstance(payload, dict) else {}

    async def account_has_number(self, number: str) -> bool:
        """The Numbers API (``GET /account/numbers?pattern=<msisdn>&search_pattern=0``, on
        ``rest.nexmo.com``) authenticates with the account's API key and secret: optional
        credentials ``api_key`` and ``api_secret``, required to register a number."""
        key, secret = self.credentials.get("api_key"), self.credentials.get("api_secret")
        if not key or not secret:
            raise UnsupportedOperation("vonage needs credentials api_key and api_secret to list numbers")
        base = (self.api_base_url or NUMBERS_API).rstrip("/")
        msisdn = number.lstrip("+")
        response = await send(
            "GET", f"{base}/account/numbers", client=self.http_client, auth=(str(key), str(secret)),
            params={"pattern": msisdn, "search_pattern": "0", "size": "100"},
        )  # fmt: skip
        data = json_of(check(response))
        listed = data.get("numbers") if isinstance(data, dict) else None
        return isinstance(listed, list) and any(
            isinstance(n, dict) and str(n.get("msisdn", "")) == msisdn for n in listed
        )

    async def dial(self, request: DialRequest) -> str:
        payload: dict[str, Any] = {
            "to": [{"type": "phone", "number": request.to_number.lstrip("+")}],
            "from": {"type": "phone", "number": request.from_number.lstrip("+")},
            "answer_url": [self._bind(request.answer_url)],
            "answer_method": "POST",
            "event_url": [self._bind(request.status_url)],
            "event_method": "POST",
        }
        if request.machine_detection:
            payload["machine_detection"] = "continue"
        data = await self._request("POST", "/v1/calls", payload)
        if not data.get("uuid"):
            raise CarrierApiError("carrier_rejected", "no uuid in the response")
        return str(data["uuid"])

    async def hangup(self, carrier_call_id: str) -> None:
        try:
            await self._request("PUT", f"/v1/calls/{carrier_call_id}", {"action": "hangup"})
        except CarrierApiError as exc:
            if exc.status not in (400, 404):  # already ended
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
