"""Browser calls over WebRTC (pipecat's SmallWebRTC transport, aiortc underneath).

``start_browser_call``: the offer must parse as SDP with an audio m-line (else
``BadOffer``, and nothing is created); the peer connection answers it before the call is
admitted, so an offer aiortc cannot answer creates nothing either. The call then waits for
the peer to connect: one that has not within ``WEBRTC_CONNECT_TIMEOUT_SECONDS`` is ended
as ``failed``/``never_connected`` (slot released, nothing billed) without running its
pipeline. ``renegotiate`` and ``add_candidates`` act on a peer of the caller's
organization, under the id the first answer gave (stable across ``restart_pc``).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from uuid import UUID, uuid4

import structlog
from aiortc.sdp import SessionDescription, candidate_from_sdp
from pipecat.transports.base_transport import TransportParams
from pipecat.transports.smallwebrtc.connection import IceServer, SmallWebRTCConnection
from pipecat.transports.smallwebrtc.transport import SmallWebRTCTransport

from db.calls import CallStatus
from pipeline.call_runner import CallControl
from pipeline.events import EndReason
from pipeline.transports import BrowserWebRTCTransport
from server.calls.admission import CallHandle, NewCall, check_instance, end_call, start_call
from server.calls.commands import CallCommand, dispatch
from server.calls.ice import ice_servers
from server.calls.session import run_call_on_transport
from server.calls.webrtc_audio import hear_sooner
from telephony.contract import UnsupportedOperation

if TYPE_CHECKING:
    from server.services import Services

log = structlog.get_logger(__name__)

AUDIO_IN_RATE = 16_000  # what VAD, Smart Turn and the STTs want
AUDIO_OUT_RATE = 24_000
CONNECTED_POLL_SECONDS = 0.05


class BadOffer(Exception):
    """The SDP offer (or an ICE candidate) is not usable; ``path`` locates the bad input
    in the request body (``("sdp",)``, ``("candidates", 2, "candidate")``)."""

    def __init__(self, message: str, *path: object) -> None:
        super().__init__(message)
        self.path = path or ("sdp",)


class UnknownPeer(Exception):
    """No peer connection with that id belongs to the caller's organization."""


@dataclass(slots=True)
class Peer:
    organization_id: UUID
    call_id: UUID
    connection: SmallWebRTCConnection
    #: A renegotiation is under way: with ``restart_pc`` the old peer connection reads
    #: "closed" until its replacement exists, which is no reason to end the call.
    renegotiating: bool = False


@dataclass(slots=True)
class Answer:
    sdp: str
    type: str
    pc_id: str
    call_id: UUID


@dataclass
class WebRTCPeers:
    """This instance's browser peer connections (``Services.webrtc``), by the pc id the
    first answer gave."""

    peers: dict[str, Peer] = field(default_factory=dict)

    def owned(self, organization_id: UUID, pc_id: str) -> tuple[str, Peer]:
        peer = self.peers.get(pc_id)
        if peer is None or peer.organization_id != organization_id:
            raise UnknownPeer(pc_id)
        return pc_id, peer


def _peers(services: Services) -> WebRTCPeers:
    if services.webrtc is None:
        services.webrtc = WebRTCPeers()
    return services.webrtc


def check_offer(sdp: str) -> None:
    """Raise ``BadOffer`` unless ``sdp`` parses as an SDP offer with an audio m-line."""
    try:
        parsed = SessionDescription.parse(sdp)
    except Exception:  # aiortc's parser raises whatever the text trips it on
        raise BadOffer("the offer is not valid SDP") from None
    if not any(media.kind == "audio" for media in parsed.media):
        raise BadOffer("the offer has no audio m-line")


def _ice(services: Services, call_id: UUID) -> list[IceServer]:
    return [IceServer(urls=s.urls, username=s.username, credential=s.credential)
            for s in ice_servers(services.settings, f"call-{call_id}")]  # fmt: skip


async def start_browser_call(services: Services, new: NewCall, sdp: str, sdp_type: str) -> Answer:
    """Answer a browser's offer and admit its call (raises ``BadOffer`` and what
    ``start_call`` raises; nothing is created on any of them)."""
    check_offer(sdp)
    check_instance(services)
    new.call_id = new.call_id or uuid4()
    connection = SmallWebRTCConnection(ice_servers=_ice(services, new.call_id))
    try:
        await connection.initialize(sdp=sdp, type=sdp_type)
        hear_sooner(connection.pc)  # before any media: the caller heard 80 ms sooner
        answer = connection.get_answer()
    except Exception:
        answer = None
    if answer is None:
        await _close(connection)
        raise BadOffer("could not answer the offer")
    try:
        handle = await start_call(services, new)
    except BaseException:
        await _close(connection)
        raise
    transport = BrowserWebRTCTransport(connection, TransportParams(
        audio_in_enabled=True, audio_out_enabled=True,
        audio_in_sample_rate=AUDIO_IN_RATE, audio_out_sample_rate=AUDIO_OUT_RATE,
    ))  # fmt: skip
    pc_id = str(answer["pc_id"])
    peer = _peers(services).peers[pc_id] = Peer(new.organization_id, handle.call_id, connection)
    services.spawn(_run(services, handle, transport, peer, pc_id), name=f"call:{handle.call_id}")
    return Answer(sdp=answer["sdp"], type=answer["type"], pc_id=pc_id, call_id=handle.call_id)


async def _close(connection: SmallWebRTCConnection) -> None:
    with contextlib.suppress(Exception):
        await connection.disconnect()


async def renegotiate(services: Services, organization_id: UUID, pc_id: str, sdp: str,
                      sdp_type: str, restart: bool) -> Answer:  # fmt: skip
    check_offer(sdp)
    key, peer = _peers(services).owned(organization_id, pc_id)
    peer.renegotiating = True
    try:
        await peer.connection.renegotiate(sdp=sdp, type=sdp_type, restart_pc=restart)
        hear_sooner(peer.connection.pc)  # a restarted peer connection has new receivers
    except Exception:
        raise BadOffer("could not renegotiate with this offer") from None
    finally:
        peer.renegotiating = False
    answer = peer.connection.get_answer()
    if answer is None:
        raise BadOffer("the offer produced no answer")
    return Answer(sdp=answer["sdp"], type=answer["type"], pc_id=key, call_id=peer.call_id)


async def add_candidates(services: Services, organization_id: UUID, pc_id: str,
                         candidates: list[tuple[str, str, int]]) -> None:  # fmt: skip
    """Trickled ICE candidates (candidate, sdp_mid, sdp_mline_index); an empty candidate
    is the end-of-candidates marker. Raises ``BadOffer`` naming the first bad candidate."""
    _, peer = _peers(services).owned(organization_id, pc_id)
    parsed = []
    for i, (text, mid, index) in enumerate(candidates):
        if not text:
            parsed.append(None)
            continue
        try:
            candidate = candidate_from_sdp(text.removeprefix("candidate:"))
        except Exception:
            raise BadOffer("not an ICE candidate", "candidates", i, "candidate") from None
        candidate.sdpMid, candidate.sdpMLineIndex = mid, index
        parsed.append(candidate)
    for candidate in parsed:
        await peer.connection.add_ice_candidate(candidate)


async def _connected(peer: Peer, control: CallControl, within_seconds: float) -> bool:
    """Whether the peer connects (ICE and DTLS) within ``within_seconds``, before the call
    is hung up (a connection closed by a renegotiation's restart is not a failure)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_seconds
    while loop.time() < deadline and control.end_reason is None:
        state = peer.connection.pc.connectionState
        if state == "connected":
            return True
        if state in ("failed", "closed") and not peer.renegotiating:
            return False
        await asyncio.sleep(CONNECTED_POLL_SECONDS)
    return False


async def _run(services: Services, handle: CallHandle, transport: SmallWebRTCTransport,
               peer: Peer, pc_id: str) -> None:  # fmt: skip
    connection = peer.connection
    control = CallControl()
    target = BrowserCall(control)
    unsubscribe = await services.bus.subscribe(str(handle.call_id), target.handle)
    try:
        timeout = services.settings.webrtc_connect_timeout_seconds
        if not await _connected(peer, control, timeout):
            if control.end_reason is not None:  # hung up before the peer connected
                await end_call(services, handle.call_id, control.end_reason, CallStatus.CANCELED)
                return
            log.warning("webrtc_peer_never_connected", call_id=str(handle.call_id))
            await end_call(services, handle.call_id, EndReason.NEVER_CONNECTED, CallStatus.FAILED)
            return
        await run_call_on_transport(
            services, handle, transport,
            audio_in_sample_rate=AUDIO_IN_RATE, audio_out_sample_rate=AUDIO_OUT_RATE,
            control=control,
        )  # fmt: skip
    finally:
        await unsubscribe()
        _peers(services).peers.pop(pc_id, None)
        await _close(connection)


class BrowserCall:
    """The ``CallTarget`` of a browser call: it can be hung up; it has no line to transfer."""

    def __init__(self, control: CallControl) -> None:
        self.control = control

    async def handle(self, command: CallCommand) -> None:
        try:
            await dispatch(command, self)
        except UnsupportedOperation:
            log.info("webrtc_command_unsupported", command=command.type)

    async def hang_up(self, reason: EndReason) -> None:
        await self.control.hang_up(reason)

    async def transfer(self, to: str) -> None:
        raise UnsupportedOperation("a browser call has no phone line to transfer")

    async def send_dtmf(self, digits: str) -> None:
        raise UnsupportedOperation("a browser call has no phone line for DTMF")

    async def leave_voicemail(self, text: str) -> None:
        raise UnsupportedOperation("a browser call has no voicemail")

    async def carrier_ended(self, status: CallStatus) -> None:
        await self.control.hang_up(EndReason.of(status, EndReason.COMPLETED))
