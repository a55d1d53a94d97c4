"""Browser calls over WebRTC: adapters for ``server.calls.webrtc``.

``POST /api/v1/webrtc/offer`` takes the browser's SDP offer and the workflow to talk to and
answers with ours (or renegotiates a peer given its ``pc_id``); ``PATCH`` adds trickled ICE
candidates; ``GET /api/v1/webrtc/ice-servers`` gives the browser its STUN/TURN servers. The voice
client is the console's Test page (``/test``; ``/talk`` redirects there).
"""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field

from runtime.supported import LanguageTag
from server.api import ApiContext, Router
from server.calls import webrtc as browser
from server.calls.admission import NewCall
from server.calls.ice import ice_servers
from server.coordination.rate_limit import Rule, limit_organization
from server.errors import ApiError, detail, not_found
from server.routes.call_control import admission_error, check_call_language

router = Router(tags=["webrtc"])


class OfferIn(BaseModel):
    sdp: str = Field(min_length=1, max_length=100_000)
    type: Literal["offer"] = "offer"
    workflow_id: UUID
    test: bool = Field(default=False, description="Run the workflow's draft, not its published version")
    variables: dict[str, str] = Field(default_factory=dict, max_length=100)
    pc_id: str | None = Field(default=None, max_length=200, description="Renegotiate this peer")
    restart_pc: bool = False
    record: bool | None = Field(
        default=None, description="Record this call (default: RECORD_CALLS); true on a plan "
        "without the recording feature is a 403 feature_not_in_plan")
    language: LanguageTag | None = Field(
        default=None, description="This call's language (default: the workflow's "
        "settings.language); 422 when it is unknown or a speech provider the call would use "
        "cannot hear or speak it")


class AnswerOut(BaseModel):
    sdp: str
    type: str
    pc_id: str = Field(description="The peer's id for PATCH and renegotiation (stable)")
    call_id: UUID


class CandidateIn(BaseModel):
    candidate: str = Field(max_length=2_000, description="An SDP candidate line; empty = end of candidates")
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


def _bad(exc: browser.BadOffer, code: str) -> ApiError:
    return ApiError(400, code, str(exc), detail("body", *exc.path, code=code, message=str(exc)))


def _answer(answer: browser.Answer) -> AnswerOut:
    return AnswerOut(sdp=answer.sdp, type=answer.type, pc_id=answer.pc_id, call_id=answer.call_id)


@router.get("/api/v1/webrtc/ice-servers", response=IceServersOut,
            summary="STUN/TURN servers for a browser call (TURN credentials expire)")  # fmt: skip
async def get_ice_servers(ctx: ApiContext) -> IceServersOut:
    user = str(ctx.caller.user_id or ctx.caller.organization_id)
    servers = ice_servers(ctx.services.settings, user)
    return IceServersOut(ice_servers=[IceServerOut(**s.as_dict()) for s in servers])


@router.post("/api/v1/webrtc/offer", body=OfferIn, response=AnswerOut, errors=[402, 404, 429, 503],
             summary="Start a browser call: SDP offer in, SDP answer out")  # fmt: skip
async def offer(ctx: ApiContext) -> AnswerOut:
    await limit_organization(ctx, Rule.WEBRTC_OFFER_ORG)
    body: OfferIn = ctx.body
    org = ctx.caller.organization_id
    try:
        if body.pc_id:
            return _answer(await browser.renegotiate(ctx.services, org, body.pc_id, body.sdp,
                                                     body.type, body.restart_pc))  # fmt: skip
        if body.language is not None:
            await check_call_language(ctx, body.workflow_id, body.language, draft=body.test)
        new = NewCall(
            organization_id=org, workflow_id=body.workflow_id, channel="webrtc",
            direction="browser", variables=body.variables, test=body.test, record=body.record,
            language=body.language,
            metadata={"user_id": str(ctx.caller.user_id) if ctx.caller.user_id else None},
            connect_within_seconds=ctx.services.settings.webrtc_connect_timeout_seconds + 5,
        )  # fmt: skip
        return _answer(await browser.start_browser_call(ctx.services, new, body.sdp, body.type))
    except browser.BadOffer as exc:
        raise _bad(exc, "bad_offer") from None
    except browser.UnknownPeer:
        raise not_found("peer connection") from None
    except Exception as exc:
        raise admission_error(exc, resource="workflow") from None


@router.patch("/api/v1/webrtc/offer", body=PatchIn, status=204, errors=[404],
              summary="Trickle ICE: add the browser's candidates to its peer connection")  # fmt: skip
async def patch_offer(ctx: ApiContext) -> None:
    body: PatchIn = ctx.body
    candidates = [(c.candidate, c.sdp_mid, c.sdp_mline_index) for c in body.candidates]
    try:
        await browser.add_candidates(ctx.services, ctx.caller.organization_id, body.pc_id, candidates)
    except browser.BadOffer as exc:
        raise _bad(exc, "bad_candidate") from None
    except browser.UnknownPeer:
        raise not_found("peer connection") from None
