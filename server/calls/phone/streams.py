"""Carrier media streams: single-use stream tokens, the websocket handshake, admission of a
stream to its call, and the live call on pipecat's websocket transport.

The handshake (Twilio ``connected``/``start``, Telnyx/Plivo/Exotel ``start``, Vonage
``websocket:connected``) is read with bounds on message count, size and time and parsed by
the carrier (which refuses a media format it does not support). Admission: the token is
consumed atomically and must belong to a live call on this carrier, the stream's carrier
call id must match the call's, and the call may have only one stream (claimed atomically).
Any refusal closes with 1008 (1009 for a message too large) and changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import secrets
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

import structlog
from pipecat.audio.dtmf.types import KeypadEntry
from pipecat.frames.frames import OutputDTMFUrgentFrame
from pipecat.transports.websocket.fastapi import FastAPIWebsocketParams, FastAPIWebsocketTransport
from starlette.websockets import WebSocket, WebSocketState

from db import carriers as carriers_db
from db.calls import CallStatus
from db.carriers import CarrierCall
from pipeline.call_runner import CallControl
from pipeline.events import EndReason
from pipeline.teardown import release_transport
from pipeline.transports import CarrierWebsocketTransport
from server.calls.admission import CallUnavailable, end_call, load_call
from server.calls.commands import CallCommand, dispatch
from server.calls.phone.carriers import provider_for, stream_url
from server.calls.phone.webhooks import CarrierWebhook, WebhookReply
from server.calls.session import run_call_on_transport
from telephony.contract import Capability, CarrierProvider, StreamStart, UnsupportedOperation
from telephony.guarded_serializer import MAX_MEDIA_MESSAGE_BYTES, GuardedSerializer

if TYPE_CHECKING:
    from server.services import Services

log = structlog.get_logger(__name__)

HANDSHAKE_TIMEOUT_SECONDS = 10.0
HANDSHAKE_MAX_MESSAGES = 4
MAX_TOKEN_CHARS = 128
POLICY_VIOLATION = 1008
TOO_BIG = 1009


# --- stream tokens ----------------------------------------------------------------------------


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


async def mint_stream_token(services: Services, organization_id: UUID, call_id: UUID,
                            ttl_seconds: int) -> str:  # fmt: skip
    """A random token admitting one media websocket to ``call_id`` for ``ttl_seconds``
    (earlier tokens of the call stop working); only its hash is stored."""
    token = secrets.token_urlsafe(32)
    expires = datetime.now(UTC) + timedelta(seconds=ttl_seconds)
    await carriers_db.add_stream_token(services.db, organization_id, call_id, token_hash(token), expires)
    return token


async def stream_markup(services: Services, hook: CarrierWebhook, provider: CarrierProvider,
                        organization_id: UUID, call_id: UUID, *,
                        expire: bool = True) -> WebhookReply:  # fmt: skip
    """Markup connecting the call to its media websocket with a new single-use token; with
    ``expire``, the call is ended if no stream connects while the token is valid."""
    ttl = services.settings.stream_token_ttl_seconds
    token = await mint_stream_token(services, organization_id, call_id, ttl)
    if expire:
        services.spawn(expire_unconnected(services, call_id, ttl + 5), name=f"expire-{call_id}")
    stream = stream_url(hook.public_base, hook.carrier)
    return WebhookReply.markup(provider.answer_markup(stream, {"token": token}))


async def expire_unconnected(services: Services, call_id: UUID, after_seconds: float) -> None:
    """End a call whose media stream never connected (its stream token expired): releases
    the concurrency slot and finalizes the row. A connected call is left alone."""
    await asyncio.sleep(after_seconds)
    if not await carriers_db.call_connected(services.db, call_id):
        log.warning("telephony_stream_never_connected", call_id=str(call_id))
        await end_call(services, call_id, EndReason.CANCELED)


# --- handshake ------------------------------------------------------------------------------


ReceiveMessage = Callable[[], Awaitable[Mapping[str, Any]]]  # an ASGI websocket's receive


class StreamRefused(Exception):
    def __init__(self, reason: str, code: int = POLICY_VIOLATION) -> None:
        super().__init__(reason)
        self.code = code


async def read_handshake(
    receive: ReceiveMessage, parser: CarrierProvider, query: Mapping[str, str], *,
    within_seconds: float = HANDSHAKE_TIMEOUT_SECONDS, max_messages: int = HANDSHAKE_MAX_MESSAGES,
    max_bytes: int = MAX_MEDIA_MESSAGE_BYTES,
) -> StreamStart | None:  # fmt: skip
    """Read the first messages until the carrier's start info is complete (None when the
    peer left first). Raises ``StreamRefused`` past ``max_messages`` messages, a message
    over ``max_bytes`` or ``within_seconds``, and on any handshake the carrier refuses."""
    messages: list[str | bytes] = []
    try:
        async with asyncio.timeout(within_seconds):
            while True:
                message = await receive()
                if message["type"] == "websocket.disconnect":
                    return None
                data = message.get("text")
                if data is None:
                    data = message.get("bytes")
                if data is None:
                    raise StreamRefused("empty message")
                if len(data) > max_bytes:
                    raise StreamRefused("message too large", TOO_BIG)
                messages.append(data)
                try:
                    start = parser.parse_stream_start(messages, query)
                except Exception as exc:  # hostile input: whatever the parser raised
                    raise StreamRefused(f"malformed handshake: {type(exc).__name__}") from None
                if start is not None:
                    _check_media_format(parser, start)
                    return start
                if len(messages) >= max_messages:
                    raise StreamRefused("no start event")
    except TimeoutError:
        raise StreamRefused("handshake timeout") from None


def _check_media_format(carrier: CarrierProvider, start: StreamStart) -> None:
    if start.sample_rate not in carrier.media_sample_rates:
        raise StreamRefused(f"unsupported sample rate {start.sample_rate!r}")


async def admit_stream(services: Services, carrier: str, start: StreamStart) -> CarrierCall:
    """The call this stream is for, bound to it; raises ``StreamRefused``."""
    token = str(start.custom_parameters.get("token", ""))
    if not token or len(token) > MAX_TOKEN_CHARS:
        raise StreamRefused("missing stream token")
    admitted = await carriers_db.consume_stream_token(services.db, token_hash(token))
    if admitted is None:
        raise StreamRefused("invalid, expired or already used stream token")
    call = await carriers_db.call_carrier(services.db, admitted.call_id)
    if call is None or call.carrier != carrier:
        raise StreamRefused("stream token is for another carrier")
    if call.ended:
        raise StreamRefused("the call has ended")
    known = call.carrier_call_id
    if known and start.carrier_call_id and known != start.carrier_call_id:
        raise StreamRefused("stream token is bound to another call")
    if not await carriers_db.claim_stream(services.db, call.id):
        raise StreamRefused("the call already has a media stream")
    if not known and start.carrier_call_id and call.carrier_account_id is not None:
        await carriers_db.attach_carrier(
            services.db, call.organization_id, call.id, carrier=carrier,
            carrier_account_id=call.carrier_account_id, carrier_call_id=start.carrier_call_id,
        )  # fmt: skip
    return call


async def close(websocket: WebSocket, code: int) -> None:
    if websocket.application_state != WebSocketState.DISCONNECTED:
        with contextlib.suppress(Exception):
            await websocket.close(code)


async def serve_media_stream(services: Services, websocket: WebSocket, carrier: str) -> None:
    """A carrier's media websocket, accepted: handshake, admission, then the call."""
    parser = provider_for(services, carrier, None)
    try:
        start = await read_handshake(websocket.receive, parser, dict(websocket.query_params))
        if start is None:
            return
        call = await admit_stream(services, carrier, start)
    except StreamRefused as exc:
        log.warning("telephony_stream_rejected", carrier=carrier, reason=str(exc))
        await close(websocket, exc.code)
        return
    provider = provider_for(services, carrier, call.credentials)
    await _run(services, websocket, provider, start, call.id, call.carrier_call_id or start.carrier_call_id)


async def _run(services: Services, websocket: WebSocket, provider: CarrierProvider,
               start: StreamStart, call_id: UUID, carrier_call_id: str) -> None:  # fmt: skip
    serializer = GuardedSerializer(provider.serializer(start))
    transport = CarrierWebsocketTransport(
        websocket,
        FastAPIWebsocketParams(audio_in_enabled=True, audio_out_enabled=True, add_wav_header=False,
                               audio_out_10ms_chunks=provider.media_out_chunk_ms // 10,
                               serializer=serializer, allowed_origins=[]),
    )  # fmt: skip
    control = CallControl()
    line = LivePhoneCall(provider, transport, control, carrier_call_id)
    unsubscribe = await services.bus.subscribe(str(call_id), line.handle)
    log.info("telephony_stream_started", carrier=provider.name, call_id=str(call_id))
    try:
        try:
            handle = await load_call(services, call_id)
        except CallUnavailable:
            log.warning("telephony_call_unavailable", call_id=str(call_id))
            await end_call(services, call_id, EndReason.FAILED)
            return
        rate = provider.pipeline_sample_rate(start)
        await run_call_on_transport(
            services, handle, transport,
            audio_in_sample_rate=rate, audio_out_sample_rate=rate, control=control,
        )  # fmt: skip
    finally:
        await unsubscribe()
        await close(websocket, 1000)
        dropped = serializer.dropped
        release_transport(transport)  # freed now, not by a full GC pass (pipeline/teardown.py)
        if dropped:
            log.warning("telephony_media_messages_dropped", call_id=str(call_id), count=dropped)


class LivePhoneCall:
    """The ``CallTarget`` of a phone call whose media stream lives on this instance."""

    def __init__(self, provider: CarrierProvider, transport: FastAPIWebsocketTransport,
                 control: CallControl, carrier_call_id: str) -> None:  # fmt: skip
        self.provider = provider
        self.transport = transport
        self.control = control
        self.carrier_call_id = carrier_call_id

    async def handle(self, command: CallCommand) -> None:
        try:
            await dispatch(command, self)
        except Exception as exc:
            log.warning("telephony_control_failed", command=command.type, error=str(exc))

    async def hang_up(self, reason: EndReason) -> None:
        try:
            if self.carrier_call_id:
                await self.provider.hangup(self.carrier_call_id)
        finally:  # closing the media stream ends the call even if the REST call failed
            await self.control.hang_up(reason)

    async def transfer(self, to: str) -> None:
        if Capability.TRANSFER not in self.provider.capabilities:
            raise UnsupportedOperation(f"{self.provider.name} does not support transfer")
        await self.provider.transfer(self.carrier_call_id, to)
        await self.control.hang_up(EndReason.TRANSFERRED)

    async def send_dtmf(self, digits: str) -> None:
        # in-band tones through the media stream: works on every carrier and keeps the
        # stream (a carrier REST DTMF would replace the call's markup)
        for digit in digits:
            await self.transport.output().queue_frame(OutputDTMFUrgentFrame(button=KeypadEntry(digit)))

    async def leave_voicemail(self, text: str) -> None:
        # the carrier speaks the message (REST, sent by the status callback); the pipeline stops
        await self.control.hang_up(EndReason.VOICEMAIL)

    async def carrier_ended(self, status: CallStatus) -> None:
        await self.control.hang_up(EndReason.of(status, EndReason.COMPLETED))
