"""Server-side glue for phone calls: carrier providers built from stored accounts, public
URLs the carriers sign and connect to, single-use media-stream tokens, and the commands
(hang up, transfer, DTMF) that reach a call wherever it lives."""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import structlog
from starlette.requests import HTTPConnection

from db import carriers as carriers_db
from server.services import Services
from telephony.contract import CarrierProvider, UnsupportedOperation
from telephony.registry import make_provider

log = structlog.get_logger(__name__)

TERMINAL_STATUSES = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})


def api_base_urls(services: Services) -> dict[str, str | None]:
    s = services.settings
    return {
        "twilio": s.twilio_api_base_url,
        "telnyx": s.telnyx_api_base_url,
        "plivo": s.plivo_api_base_url,
        "vonage": s.vonage_api_base_url,
        "exotel": s.exotel_api_base_url,
    }


def provider_for(services: Services, carrier: str, encrypted_credentials: bytes | None) -> CarrierProvider:
    """The carrier's provider with the account's decrypted credentials (empty when none)."""
    credentials: Mapping[str, Any] = {}
    if encrypted_credentials is not None:
        credentials = json.loads(services.secret_box.decrypt(encrypted_credentials))
    return make_provider(carrier, credentials, api_base_urls=api_base_urls(services))


# --- public URLs ------------------------------------------------------------------------------


def public_base(services: Services, conn: HTTPConnection) -> str:
    """``PUBLIC_URL`` (what carriers see behind proxies/tunnels), else the request's base."""
    fallback = f"{conn.url.scheme}://{conn.url.netloc}"
    if conn.url.scheme in ("ws", "wss"):
        fallback = fallback.replace("ws", "http", 1)
    return services.settings.public_base_url(fallback)


def signed_url(services: Services, conn: HTTPConnection) -> str:
    """The URL the carrier requested, as the carrier saw it (what it signed)."""
    url = public_base(services, conn) + conn.url.path
    return url + ("?" + conn.url.query if conn.url.query else "")


def callback_url(services: Services, conn: HTTPConnection, path: str) -> str:
    return public_base(services, conn) + path


def stream_url(services: Services, conn: HTTPConnection, carrier: str) -> str:
    base = public_base(services, conn)
    scheme = "wss" if base.startswith("https") else "ws"
    return scheme + base[base.index(":") :] + f"/telephony/{carrier}/stream"


# --- stream tokens ----------------------------------------------------------------------------


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


async def mint_stream_token(
    services: Services, organization_id: UUID, call_id: UUID, ttl_seconds: int
) -> str:
    """A random token admitting one media websocket to ``call_id`` for ``ttl_seconds``;
    only its hash is stored."""
    token = secrets.token_urlsafe(32)
    expires = datetime.now(UTC) + timedelta(seconds=ttl_seconds)
    await carriers_db.add_stream_token(services.db, organization_id, call_id, token_hash(token), expires)
    return token


async def consume_stream_token(services: Services, token: str) -> tuple[UUID, UUID] | None:
    """(call_id, organization_id) when ``token`` is valid; it can never be used again."""
    if not token or len(token) > 128:
        return None
    row = await carriers_db.consume_stream_token(services.db, token_hash(token))
    return (row["call_id"], row["organization_id"]) if row else None


# --- call control -----------------------------------------------------------------------------


async def control_call(
    services: Services,
    *,
    call_id: UUID,
    carrier: str | None,
    carrier_call_id: str | None,
    encrypted_credentials: bytes | None,
    command: dict[str, Any],
) -> str:
    """Deliver ``command`` ({"type": "hangup"|"transfer"|"dtmf", ...}) to the call.

    The instance holding the call's media stream receives it over ``services.bus`` (in
    process or Redis) and acts on the live pipeline. When no instance holds it, the carrier
    REST API is used directly (it works from anywhere). Returns "live" or "carrier".
    """
    if await services.bus.publish(str(call_id), command) > 0:
        return "live"
    if carrier is None or not carrier_call_id:
        raise UnsupportedOperation("the call has no carrier leg to control")
    provider = provider_for(services, carrier, encrypted_credentials)
    await execute_on_carrier(provider, carrier_call_id, command)
    return "carrier"


async def execute_on_carrier(
    provider: CarrierProvider, carrier_call_id: str, command: dict[str, Any]
) -> None:
    kind = command.get("type")
    if kind == "hangup":
        await provider.hangup(carrier_call_id)
    elif kind == "transfer":
        await provider.transfer(carrier_call_id, str(command["to"]))
    elif kind == "dtmf":
        await provider.send_dtmf(carrier_call_id, str(command["digits"]))
    elif kind == "voicemail_message":
        await provider.leave_message(carrier_call_id, str(command["text"]))
    else:
        raise UnsupportedOperation(f"unknown command {kind!r}")
