"""Browser calls over WebRTC (pipecat's SmallWebRTC transport, aiortc underneath).

``POST /api/v1/webrtc/offer`` takes the browser's SDP offer and the workflow to talk to,
admits the call (concurrency, pinned version), answers with our SDP and runs the call in the
background. ``PATCH /api/v1/webrtc/offer`` adds trickled ICE candidates to a peer the caller's
organization owns. ``GET /api/v1/webrtc/ice-servers`` gives the browser its STUN/TURN
servers (TURN with time-limited REST credentials). ``GET /talk`` is the test page.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal
from uuid import UUID

import structlog
from pipecat.transports.base_transport import TransportParams
from pipecat.transports.smallwebrtc.connection import IceServer, SmallWebRTCConnection
from pipecat.transports.smallwebrtc.request_handler import (
    IceCandidate,
    SmallWebRTCPatchRequest,
    SmallWebRTCRequest,
    SmallWebRTCRequestHandler,
)
from pipecat.transports.smallwebrtc.transport import SmallWebRTCTransport
from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from server.api import ApiContext, RawDoc, Router
from server.calls import (
    CallControl,
    CallHandle,
    CallLimitExceeded,
    CallUnavailable,
    NewCall,
    end_call,
    run_call_on_transport,
    start_call,
)
from server.calls.ice import ice_servers
from server.coordination.rate_limit import Rule, limit_organization
from server.errors import ApiError, not_found
from server.services import Services

log = structlog.get_logger(__name__)
router = Router(tags=["webrtc"])

AUDIO_IN_RATE = 16_000  # what VAD, Smart Turn and the STTs want
AUDIO_OUT_RATE = 24_000
PEERS = "webrtc_peers"  # services.state: pc_id -> (organization_id, call_id)
HANDLER = "webrtc_handler"
TALK_PAGE = Path(__file__).resolve().parent.parent / "static" / "talk.html"


class OfferIn(BaseModel):
    sdp: str = Field(min_length=1, max_length=100_000)
    type: Literal["offer"] = "offer"
    workflow_id: UUID
    test: bool = Field(default=False, description="Run the workflow's draft, not its published version")
    variables: dict[str, str] = Field(default_factory=dict, max_length=100)
    pc_id: str | None = Field(default=None, max_length=200, description="Renegotiate this peer")
    restart_pc: bool = False


class AnswerOut(BaseModel):
    sdp: str
    type: str
    pc_id: str
    call_id: UUID


class CandidateIn(BaseModel):
    candidate: str = Field(max_length=2_000)
    sdp_mid: str = Field(max_length=100)
    sdp_mline_index: int = Field(ge=0, le=64)


class PatchIn(BaseModel):
    pc_id: str = Field(max_length=200)
    candidates: list[CandidateIn] = Field(max_length=50)


class IceServerOut(BaseModel):
    urls: list[str]
    username: str | None = None
    credential: str | None = None


class IceServersOut(BaseModel):
    ice_servers: list[IceServerOut]


def _handler(services: Services) -> SmallWebRTCRequestHandler:
    handler = services.state.get(HANDLER)
    if handler is None:
        handler = services.state[HANDLER] = SmallWebRTCRequestHandler()
    return handler


def _server_ice(services: Services, call_id: UUID) -> list[IceServer]:
    return [
        IceServer(urls=s.urls, username=s.username, credential=s.credential)
        for s in ice_servers(services.settings, f"call-{call_id}")
    ]


def _peers(services: Services) -> dict[str, tuple[UUID, UUID]]:
    return services.state.setdefault(PEERS, {})


@router.get("/api/v1/webrtc/ice-servers", response=IceServersOut,
            summary="STUN/TURN servers for a browser call (TURN credentials expire)")  # fmt: skip
async def get_ice_servers(ctx: ApiContext) -> IceServersOut:
    user = str(ctx.caller.user_id or ctx.caller.organization_id)
    servers = ice_servers(ctx.services.settings, user)
    return IceServersOut(ice_servers=[IceServerOut(**s.as_dict()) for s in servers])


@router.post("/api/v1/webrtc/offer", body=OfferIn, response=AnswerOut,
             summary="Start a browser call: SDP offer in, SDP answer out")  # fmt: skip
async def offer(ctx: ApiContext) -> AnswerOut:
    await limit_organization(ctx, Rule.WEBRTC_OFFER_ORG)
    services, body = ctx.services, ctx.body
    org = ctx.caller.organization_id
    peers = _peers(services)
    if body.pc_id:
        owner = peers.get(body.pc_id)
        if owner is None or owner[0] != org:
            raise not_found("peer connection")
        answer = await _handler(services).handle_web_request(
            SmallWebRTCRequest(
                sdp=body.sdp, type=body.type, pc_id=body.pc_id, restart_pc=body.restart_pc
            ),  # fmt: skip
            _no_new_connection,
        )
        return AnswerOut(**answer, call_id=owner[1])
    if services.state.get("draining"):
        raise ApiError(503, "draining", "the server is shutting down; try again")
    try:
        handle = await start_call(services, NewCall(
            organization_id=org, workflow_id=body.workflow_id, channel="webrtc",
            direction="browser", variables=body.variables, test=body.test,
            metadata={"user_id": str(ctx.caller.user_id) if ctx.caller.user_id else None},
        ))  # fmt: skip
    except CallUnavailable:
        raise not_found("workflow") from None
    except CallLimitExceeded:
        raise ApiError(429, "concurrency_limit", "too many concurrent calls") from None

    async def on_connection(connection: SmallWebRTCConnection) -> None:
        transport = SmallWebRTCTransport(
            connection,
            TransportParams(
                audio_in_enabled=True, audio_out_enabled=True,
                audio_in_sample_rate=AUDIO_IN_RATE, audio_out_sample_rate=AUDIO_OUT_RATE,
            ),
        )  # fmt: skip
        services.spawn(_run(services, handle, transport, connection), name=f"call:{handle.call_id}")

    handler = _handler(services)
    handler.update_ice_servers(_server_ice(services, handle.call_id))
    try:
        answer = await handler.handle_web_request(
            SmallWebRTCRequest(sdp=body.sdp, type=body.type), on_connection
        )
    except Exception as exc:
        await end_call(services, handle.call_id, "failed")
        raise ApiError(400, "bad_offer", f"could not answer the offer: {exc}") from None
    peers[answer["pc_id"]] = (org, handle.call_id)
    return AnswerOut(**answer, call_id=handle.call_id)


async def _no_new_connection(_connection: Any) -> None:  # renegotiation reuses the peer
    raise RuntimeError("unexpected new connection on renegotiation")


async def _run(services: Services, handle: CallHandle, transport: SmallWebRTCTransport,
               connection: SmallWebRTCConnection) -> None:  # fmt: skip
    control = CallControl()

    async def on_command(command: dict[str, Any]) -> None:
        # Hang-ups from the API (any instance); a browser has no line to transfer or dial.
        if command.get("type") in ("hangup", "carrier_status"):
            await control.hang_up(str(command.get("reason") or "ended_by_api"))

    unsubscribe = await services.bus.subscribe(str(handle.call_id), on_command)
    try:
        await run_call_on_transport(
            services, handle, transport,
            audio_in_sample_rate=AUDIO_IN_RATE, audio_out_sample_rate=AUDIO_OUT_RATE,
            control=control,
        )  # fmt: skip
    finally:
        await unsubscribe()
        _peers(services).pop(connection.pc_id, None)
        try:
            await connection.disconnect()
        except Exception:
            log.debug("webrtc_disconnect_failed", call_id=str(handle.call_id))


@router.patch("/api/v1/webrtc/offer", body=PatchIn, status=204,
              summary="Trickle ICE: add the browser's candidates to its peer connection")  # fmt: skip
async def patch_offer(ctx: ApiContext) -> None:
    owner = _peers(ctx.services).get(ctx.body.pc_id)
    if owner is None or owner[0] != ctx.caller.organization_id:
        raise not_found("peer connection")
    await _handler(ctx.services).handle_patch_request(
        SmallWebRTCPatchRequest(
            pc_id=ctx.body.pc_id,
            candidates=[
                IceCandidate(
                    candidate=c.candidate, sdp_mid=c.sdp_mid, sdp_mline_index=c.sdp_mline_index
                )  # fmt: skip
                for c in ctx.body.candidates
            ],
        )
    )


async def talk_page(_request: Request) -> Response:
    return FileResponse(TALK_PAGE, media_type="text/html")


router.raw_route(
    "/talk", talk_page, methods=["GET"],
    doc=RawDoc("GET", "/talk", "Browser page: sign in, pick a workflow, talk to it",
               tags=["webrtc"], responses={"200": "HTML page"}),
)  # fmt: skip
