"""Carrier media websockets: ``WS /telephony/{carrier}/stream``.

The handshake (Twilio ``connected``/``start``, Telnyx/Plivo/Exotel ``start``, Vonage
``websocket:connected``) is parsed with bounds on message count, size and time; the
single-use stream token it carries is consumed atomically and must belong to a call on this
carrier. Then the call runs through ``server.calls.run_call_on_transport`` on pipecat's
``FastAPIWebsocketTransport`` with the carrier's serializer. Control commands for the call
(hang up, transfer, DTMF) arrive over ``services.bus`` from any instance.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import structlog
from pipecat.audio.dtmf.types import KeypadEntry
from pipecat.frames.frames import OutputDTMFUrgentFrame
from pipecat.transports.websocket.fastapi import (
    FastAPIWebsocketParams,
    FastAPIWebsocketTransport,
)
from starlette.websockets import WebSocket, WebSocketState

from db import carriers as carriers_db
from server import carrier_calls
from server.api import RawDoc, Router
from server.calls import CallControl, CallUnavailable, end_call, load_call, run_call_on_transport
from server.services import Services
from telephony.contract import CarrierProvider, StreamStart
from telephony.guarded_serializer import MAX_MEDIA_MESSAGE_BYTES, GuardedSerializer
from telephony.registry import CARRIERS

log = structlog.get_logger(__name__)
router = Router(tags=["telephony"])

HANDSHAKE_TIMEOUT_SECONDS = 10.0
HANDSHAKE_MAX_MESSAGES = 4
POLICY_VIOLATION = 1008
TOO_BIG = 1009


class HandshakeRejected(Exception):
    def __init__(self, reason: str, code: int = POLICY_VIOLATION) -> None:
        super().__init__(reason)
        self.code = code


async def _handshake(websocket: WebSocket, parser: CarrierProvider) -> StreamStart | None:
    """Read the first messages until the carrier's start info is complete (None when the
    peer left first)."""
    query = dict(websocket.query_params)
    messages: list[str | bytes] = []
    async with asyncio.timeout(HANDSHAKE_TIMEOUT_SECONDS):
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return None
            data = message.get("text")
            if data is None:
                data = message.get("bytes")
            if data is None:
                raise HandshakeRejected("empty message")
            if len(data) > MAX_MEDIA_MESSAGE_BYTES:
                raise HandshakeRejected("message too large", TOO_BIG)
            messages.append(data)
            try:
                start = parser.parse_stream_start(messages, query)
            except (ValueError, TypeError, KeyError) as exc:
                raise HandshakeRejected(f"malformed handshake: {exc}") from None
            if start is not None:
                return start
            if len(messages) >= HANDSHAKE_MAX_MESSAGES:
                raise HandshakeRejected("no start event")


async def _close(websocket: WebSocket, code: int) -> None:
    if websocket.application_state != WebSocketState.DISCONNECTED:
        with contextlib.suppress(Exception):
            await websocket.close(code)


async def media_stream(websocket: WebSocket) -> None:
    services: Services = websocket.app.state.services
    carrier = websocket.path_params["carrier"]
    if carrier not in CARRIERS:
        await websocket.close(POLICY_VIOLATION)
        return
    await websocket.accept()
    parser = carrier_calls.provider_for(services, carrier, None)
    try:
        start = await _handshake(websocket, parser)
        if start is None:
            return
        admitted = await carrier_calls.consume_stream_token(
            services, str(start.custom_parameters.get("token", ""))
        )
        if admitted is None:
            raise HandshakeRejected("invalid, expired or already used stream token")
        call = await carriers_db.call_carrier(services.db, admitted[0])
        if call is None or call["carrier"] != carrier:
            raise HandshakeRejected("stream token is for another carrier")
        if call["status"] in carrier_calls.TERMINAL_STATUSES:
            raise HandshakeRejected("the call has ended")
        known = call["carrier_call_id"]
        if known and start.carrier_call_id and known != start.carrier_call_id:
            raise HandshakeRejected("stream token is bound to another call")
    except TimeoutError:
        log.warning("telephony_stream_rejected", carrier=carrier, reason="handshake timeout")
        await _close(websocket, POLICY_VIOLATION)
        return
    except HandshakeRejected as exc:
        log.warning("telephony_stream_rejected", carrier=carrier, reason=str(exc))
        await _close(websocket, exc.code)
        return
    if not known and start.carrier_call_id:
        await carriers_db.attach_carrier(
            services.db, call["organization_id"], call["id"], carrier=carrier,
            carrier_account_id=call["carrier_account_id"], carrier_call_id=start.carrier_call_id,
        )  # fmt: skip
    provider = carrier_calls.provider_for(services, carrier, call["credentials"])
    await _run(services, websocket, provider, start, call, known or start.carrier_call_id)


async def _run(
    services: Services,
    websocket: WebSocket,
    provider: CarrierProvider,
    start: StreamStart,
    call: Any,
    carrier_call_id: str,
) -> None:
    call_id = call["id"]
    serializer = GuardedSerializer(provider.serializer(start))
    transport = FastAPIWebsocketTransport(
        websocket,
        FastAPIWebsocketParams(
            audio_in_enabled=True,
            audio_out_enabled=True,
            add_wav_header=False,
            serializer=serializer,
            allowed_origins=[],
        ),
    )
    control = CallControl()
    commands = _Commands(provider, transport, control, carrier_call_id, str(call_id))
    unsubscribe = await services.bus.subscribe(str(call_id), commands.handle)
    log.info("telephony_stream_started", carrier=provider.name, call_id=str(call_id))
    try:
        try:
            handle = await load_call(services, call_id)
        except CallUnavailable:
            log.warning("telephony_call_unavailable", call_id=str(call_id))
            await end_call(services, call_id, "failed")
            return
        rate = start.sample_rate if provider.name != "vonage" else provider.sample_rate
        await run_call_on_transport(
            services, handle, transport,
            audio_in_sample_rate=rate, audio_out_sample_rate=rate, control=control,
        )  # fmt: skip
    finally:
        await unsubscribe()
        await _close(websocket, 1000)
        if serializer.dropped:
            log.warning("telephony_media_messages_dropped", call_id=str(call_id), count=serializer.dropped)


class _Commands:
    """Executes control commands for a call whose media stream lives on this instance."""

    def __init__(
        self,
        provider: CarrierProvider,
        transport: FastAPIWebsocketTransport,
        control: CallControl,
        carrier_call_id: str,
        call_id: str,
    ) -> None:
        self.provider = provider
        self.transport = transport
        self.control = control
        self.carrier_call_id = carrier_call_id
        self.call_id = call_id

    async def handle(self, command: dict[str, Any]) -> None:
        kind = command.get("type")
        try:
            if kind == "hangup":
                try:
                    if self.carrier_call_id:
                        await self.provider.hangup(self.carrier_call_id)
                finally:  # closing the media stream ends the call even if the REST call failed
                    await self.control.hang_up(str(command.get("reason") or "ended_by_api"))
            elif kind == "transfer":
                await self.provider.transfer(self.carrier_call_id, str(command["to"]))
                await self.control.hang_up("transferred")
            elif kind == "dtmf":
                # in-band tones through the media stream: works on every carrier and keeps
                # the stream (a carrier REST DTMF would replace the call's markup)
                for digit in str(command["digits"]):
                    await self.transport.output().queue_frame(
                        OutputDTMFUrgentFrame(button=KeypadEntry(digit))
                    )
            elif kind == "voicemail_message":
                await self.control.hang_up("voicemail")
            elif kind == "carrier_status":
                await self.control.hang_up(str(command.get("status") or "completed"))
        except Exception as exc:
            log.warning("telephony_control_failed", call_id=self.call_id, command=kind, error=str(exc))


router.websocket(
    "/telephony/{carrier}/stream",
    media_stream,
    doc=RawDoc(
        "GET", "/telephony/{carrier}/stream", "Carrier media websocket",
        "The carrier's bidirectional media stream (Twilio Media Streams, Telnyx, Plivo, "
        "Vonage, Exotel). Admitted by the single-use stream token from the call markup.",
        tags=["telephony"], responses={"101": "Switching protocols"},
    ),
)  # fmt: skip
