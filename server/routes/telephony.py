"""Carrier webhooks: inbound voice, outbound answer and call-status callbacks.

Adapters only: ``carrier_webhook`` turns the request into a ``CarrierWebhook`` (the one
preamble: carrier, body within the size limit, the URL as the carrier signed it) and the
call package (``server.calls.phone``) answers it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog
from starlette.requests import Request
from starlette.responses import Response

from server.api import RawDoc, Router, read_limited_body
from server.calls.phone.carriers import known_carrier, public_base
from server.calls.phone.inbound import voice_webhook
from server.calls.phone.outbound import answer_webhook
from server.calls.phone.status import status_webhook
from server.calls.phone.webhooks import CarrierWebhook, WebhookReply
from server.errors import ApiError
from server.services import Services

log = structlog.get_logger(__name__)
router = Router(tags=["telephony"])


async def carrier_webhook(request: Request) -> CarrierWebhook | Response:
    """The webhook of the carrier named in the path, or the 404 / 413 response."""
    services: Services = request.app.state.services
    carrier = request.path_params["carrier"]
    if not known_carrier(carrier):
        return Response(status_code=404)
    try:  # the parameters: the body of a POST, the query string of a GET
        body = (request.url.query.encode() if request.method == "GET"
                else await read_limited_body(request, services.settings.max_body_bytes))  # fmt: skip
    except ApiError:
        log.warning("telephony_webhook_too_large", carrier=carrier)
        return Response(status_code=413)
    public = public_base(services, f"{request.url.scheme}://{request.url.netloc}")
    url = public + request.url.path + ("?" + request.url.query if request.url.query else "")
    return CarrierWebhook(
        carrier=carrier, method=request.method, url=url, public_base=public,
        headers={k.lower(): v for k, v in request.headers.items()}, body=body,
        query=dict(request.query_params),
    )  # fmt: skip


def _adapter(handler: Callable[[Services, CarrierWebhook], Awaitable[WebhookReply]]):  # type: ignore[no-untyped-def]
    async def endpoint(request: Request) -> Response:
        hook = await carrier_webhook(request)
        if isinstance(hook, Response):
            return hook
        reply = await handler(request.app.state.services, hook)
        return Response(reply.body, status_code=reply.status, media_type=reply.media_type)

    return endpoint


router.raw_route(
    "/telephony/{carrier}/voice", _adapter(voice_webhook), methods=["GET", "POST"],
    doc=RawDoc("POST", "/telephony/{carrier}/voice", "Inbound call webhook",
               "The carrier's voice webhook for calls to our numbers. Verifies the carrier "
               "signature against PUBLIC_URL, answers with markup connecting the media "
               "websocket. An unknown number and a bad signature get the same 403.",
               tags=["telephony"],
               responses={"200": "Carrier markup (TwiML, XML, NCCO)", "400": "Malformed webhook",
                          "403": "Unknown number or bad signature", "404": "Unknown carrier",
                          "413": "Body too large"}),
)  # fmt: skip
router.raw_route(
    "/telephony/{carrier}/answer", _adapter(answer_webhook), methods=["GET", "POST"],
    doc=RawDoc("POST", "/telephony/{carrier}/answer", "Outbound call answered",
               "Markup connecting an answered outbound call (query: call=<id>) to the media "
               "websocket; once its stream connected, the carrier's reject markup.",
               tags=["telephony"],
               responses={"200": "Carrier markup", "403": "Bad signature",
                          "404": "Unknown carrier or call", "413": "Body too large"}),
)  # fmt: skip
router.raw_route(
    "/telephony/{carrier}/status", _adapter(status_webhook), methods=["GET", "POST"],
    doc=RawDoc("POST", "/telephony/{carrier}/status", "Call status callback",
               "Call progress and answering-machine detection results (query: call=<id>); "
               "a callback naming another carrier call id than the call's is ignored.",
               tags=["telephony"],
               responses={"204": "Recorded", "403": "Bad signature",
                          "404": "Unknown carrier or call", "413": "Body too large"}),
)  # fmt: skip
