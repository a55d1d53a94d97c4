"""Carrier webhooks: inbound voice, outbound answer and call-status callbacks.

``/telephony/{carrier}/voice``  a call to one of our numbers: verify the carrier's signature
    against the public URL it signed, resolve the number (one query), check limits, create
    the call row, answer with markup connecting the media stream with a single-use token.
``/telephony/{carrier}/answer?call=<id>``  an outbound call we dialed was answered.
``/telephony/{carrier}/status?call=<id>``  progress callbacks (and AMD results).

Failures answer the carrier with its reject markup or a bare status and one log line.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import structlog
from starlette.requests import Request
from starlette.responses import Response

from db import carriers as carriers_db
from db import phone_numbers as numbers_db
from server import carrier_calls
from server.api import RawDoc, Router, read_limited_body
from server.errors import ApiError
from server.telephony_calls import (
    CallRejected,
    apply_status,
    expire_unconnected,
    start_inbound_call,
)
from telephony.contract import CarrierProvider, WebhookRejected
from telephony.numbers import normalize_e164
from telephony.registry import CARRIERS

log = structlog.get_logger(__name__)
router = Router(tags=["telephony"])


def _markup(content: tuple[str, str], status: int = 200) -> Response:
    return Response(content[1], status_code=status, media_type=content[0])


async def _read(request: Request) -> bytes:
    """The webhook's parameters: the body of a POST, the query string of a GET."""
    if request.method == "GET":
        return request.url.query.encode()
    limit = request.app.state.services.settings.max_body_bytes
    return await read_limited_body(request, limit)


def _signed_body(request: Request, body: bytes) -> bytes:
    """What carriers sign besides the URL: the body of a POST; a GET is signed by its URL."""
    return b"" if request.method == "GET" else body


async def _authentic(request: Request, provider: CarrierProvider, url: str, body: bytes) -> bool:
    """The carrier's signature verifies and this signed request was not seen before (a
    replay is answered like a forgery)."""
    headers, signed = _headers(request), _signed_body(request, body)
    if not provider.verify_webhook(url, headers, signed):
        return False
    key = provider.replay_key(url, headers, signed)
    return key is None or await request.app.state.services.replay_guard.first_seen(key.key, key.ttl_seconds)


def _headers(request: Request) -> dict[str, str]:
    return {k.lower(): v for k, v in request.headers.items()}


def _carrier(request: Request) -> str | None:
    carrier = request.path_params["carrier"]
    return carrier if carrier in CARRIERS else None


async def _carrier_and_body(request: Request) -> tuple[str, bytes] | Response:
    """The carrier named in the path and the request body, or the 404 / 413 response."""
    carrier = _carrier(request)
    if carrier is None:
        return Response(status_code=404)
    try:
        return carrier, await _read(request)
    except ApiError:
        log.warning("telephony_webhook_too_large", carrier=carrier)
        return Response(status_code=413)


async def voice_webhook(request: Request) -> Response:
    services = request.app.state.services
    read = await _carrier_and_body(request)
    if isinstance(read, Response):
        return read
    carrier, body = read
    parser = carrier_calls.provider_for(services, carrier, None)
    try:
        inbound = parser.parse_inbound(body, _headers(request))
    except WebhookRejected as exc:
        log.warning("telephony_webhook_malformed", carrier=carrier, error=str(exc))
        return Response(status_code=400)
    existing = await carriers_db.find_call_by_carrier_id(services.db, carrier, inbound.carrier_call_id)
    if existing is not None:
        # a call we already know asks for its stream: one of our outbound calls (Exotel's
        # Voicebot applet) or a retried webhook. A new token replaces the earlier ones; a call
        # whose stream already connected gets none.
        if existing["answered_at"] is not None:
            log.warning("telephony_duplicate_webhook", carrier=carrier, call_id=str(existing["id"]))
            return _markup(parser.reject_markup("rejected"))
        return await _answer_existing(request, carrier, existing, body)
    try:
        to_number = normalize_e164(inbound.to_number)
    except ValueError:
        log.warning("telephony_unknown_number", carrier=carrier, to=inbound.to_number[:32])
        return Response("invalid signature", status_code=403)
    number = await numbers_db.resolve_inbound(services.db, carrier, to_number)
    if number is None:  # answered like a bad signature: probing tells nothing
        log.warning("telephony_unknown_number", carrier=carrier, to=to_number)
        return Response("invalid signature", status_code=403)
    provider = carrier_calls.provider_for(services, carrier, number["credentials"])
    url = carrier_calls.signed_url(services, request)
    if not await _authentic(request, provider, url, body):
        log.warning(
            "telephony_bad_signature", carrier=carrier, to=to_number, url=url,
            organization_id=str(number["organization_id"]),
        )  # fmt: skip
        return Response("invalid signature", status_code=403)
    try:
        call_id = await start_inbound_call(services, carrier, number, inbound, to_number)
    except CallRejected as exc:
        log.warning(
            "telephony_call_rejected", carrier=carrier, reason=exc.reason, to=to_number,
            organization_id=str(number["organization_id"]),
        )  # fmt: skip
        return _markup(provider.reject_markup(exc.markup_reason))
    ttl = services.settings.stream_token_ttl_seconds
    token = await carrier_calls.mint_stream_token(services, number["organization_id"], call_id, ttl)
    services.spawn(expire_unconnected(services, call_id, ttl + 5), name=f"expire-{call_id}")
    log.info("telephony_inbound_call", carrier=carrier, call_id=str(call_id))
    stream = carrier_calls.stream_url(services, request, carrier)
    return _markup(provider.answer_markup(stream, {"token": token}))


async def _answer_existing(request: Request, carrier: str, call: Any, body: bytes) -> Response:
    services = request.app.state.services
    provider = carrier_calls.provider_for(services, carrier, call["credentials"])
    url = carrier_calls.signed_url(services, request)
    if not await _authentic(request, provider, url, body):
        log.warning("telephony_bad_signature", carrier=carrier, call_id=str(call["id"]))
        return Response("invalid signature", status_code=403)
    return await _connect_markup(request, carrier, call, provider, expire=False)


async def _connect_markup(
    request: Request, carrier: str, call: Any, provider: CarrierProvider, *, expire: bool
) -> Response:
    """Markup connecting a live call to its media websocket with a fresh stream token."""
    services = request.app.state.services
    if call["status"] in carrier_calls.TERMINAL_STATUSES:
        return _markup(provider.reject_markup("rejected"))
    ttl = services.settings.stream_token_ttl_seconds
    token = await carrier_calls.mint_stream_token(services, call["organization_id"], call["id"], ttl)
    if expire:
        services.spawn(expire_unconnected(services, call["id"], ttl + 5), name=f"expire-{call['id']}")
    stream = carrier_calls.stream_url(services, request, carrier)
    return _markup(provider.answer_markup(stream, {"token": token}))


async def _callback(request: Request) -> tuple[str, bytes, Any, CarrierProvider] | Response:
    """Carrier, body, call and provider of a ``?call=`` callback, or the error response."""
    read = await _carrier_and_body(request)
    if isinstance(read, Response):
        return read
    carrier, body = read
    found = await _call_from_query(request, carrier, body)
    if isinstance(found, Response):
        return found
    return (carrier, body, *found)


async def _call_from_query(
    request: Request, carrier: str, body: bytes
) -> tuple[Any, CarrierProvider] | Response:
    """The call named by ``?call=`` and its carrier provider, after the signature check."""
    services = request.app.state.services
    try:
        call_id = UUID(request.query_params.get("call", ""))
    except ValueError:
        return Response(status_code=404)
    call = await carriers_db.call_carrier(services.db, call_id)
    if call is None or call["carrier"] != carrier:
        log.warning("telephony_unknown_call", carrier=carrier, call_id=str(call_id))
        return Response(status_code=404)
    provider = carrier_calls.provider_for(services, carrier, call["credentials"])
    url = carrier_calls.signed_url(services, request)
    if not await _authentic(request, provider, url, body):
        log.warning("telephony_bad_signature", carrier=carrier, call_id=str(call_id))
        return Response("invalid signature", status_code=403)
    return call, provider


async def answer_webhook(request: Request) -> Response:
    found = await _callback(request)
    if isinstance(found, Response):
        return found
    carrier, _, call, provider = found
    return await _connect_markup(request, carrier, call, provider, expire=True)


async def status_webhook(request: Request) -> Response:
    services = request.app.state.services
    found = await _callback(request)
    if isinstance(found, Response):
        return found
    carrier, body, call, provider = found
    try:
        update = provider.parse_status(body, _headers(request))
    except WebhookRejected as exc:
        log.info("telephony_status_ignored", carrier=carrier, detail=str(exc))
        return Response(status_code=204)
    await apply_status(services, call, provider, update)
    return Response(status_code=204)


_VOICE_DOC = (
    "The carrier's voice webhook for calls to our numbers. Verifies the carrier signature "
    "against PUBLIC_URL, answers with markup connecting the media websocket."
)
router.raw_route(
    "/telephony/{carrier}/voice", voice_webhook, methods=["GET", "POST"],
    doc=RawDoc("POST", "/telephony/{carrier}/voice", "Inbound call webhook", _VOICE_DOC,
               tags=["telephony"],
               responses={"200": "Carrier markup (TwiML, XML, NCCO)", "403": "Bad signature"}),
)  # fmt: skip
router.raw_route(
    "/telephony/{carrier}/answer", answer_webhook, methods=["GET", "POST"],
    doc=RawDoc("POST", "/telephony/{carrier}/answer", "Outbound call answered",
               "Markup connecting an answered outbound call (query: call=<id>) to the media "
               "websocket.", tags=["telephony"],
               responses={"200": "Carrier markup", "403": "Bad signature", "404": "No call"}),
)  # fmt: skip
router.raw_route(
    "/telephony/{carrier}/status", status_webhook, methods=["GET", "POST"],
    doc=RawDoc("POST", "/telephony/{carrier}/status", "Call status callback",
               "Call progress and answering-machine detection results (query: call=<id>).",
               tags=["telephony"],
               responses={"204": "Recorded", "403": "Bad signature", "404": "No call"}),
)  # fmt: skip
