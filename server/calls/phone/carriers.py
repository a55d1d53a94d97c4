"""Carrier providers built from stored accounts, and the public URLs carriers sign and
connect to. Which carrier can do what is declared by the carrier itself
(``telephony.contract.CarrierProvider`` capabilities); nothing here names one."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from telephony.contract import CarrierProvider
from telephony.registry import CARRIERS, make_provider

if TYPE_CHECKING:
    from server.services import Services


def known_carrier(name: str) -> bool:
    return name in CARRIERS


def api_base_urls(services: Services) -> dict[str, str | None]:
    """Carrier name -> REST base URL override (settings ``<CARRIER>_API_BASE_URL``)."""
    settings = services.settings
    return {name: getattr(settings, f"{name}_api_base_url", None) for name in CARRIERS}


def provider_for(services: Services, carrier: str, encrypted_credentials: bytes | None) -> CarrierProvider:
    """The carrier's provider with the account's decrypted credentials (empty when none:
    enough to parse a webhook, never to verify one)."""
    credentials: Mapping[str, Any] = {}
    if encrypted_credentials is not None:
        credentials = json.loads(services.secret_box.decrypt(encrypted_credentials))
    return make_provider(carrier, credentials, api_base_urls=api_base_urls(services),
                         http_client=services.egress.client)


def public_base(services: Services, request_base: str) -> str:
    """``PUBLIC_URL`` (what carriers see behind proxies/tunnels), else the request's base
    (``scheme://host``; a websocket's ws/wss becomes http/https)."""
    if request_base.startswith("ws"):
        request_base = "http" + request_base[2:]
    return services.settings.public_base_url(request_base)


def websocket_base(http_base: str) -> str:
    scheme = "wss" if http_base.startswith("https") else "ws"
    return scheme + http_base[http_base.index(":") :]


def stream_url(public: str, carrier: str) -> str:
    """The carrier's media websocket (the token travels as a stream parameter)."""
    return f"{websocket_base(public)}/telephony/{carrier}/stream"


def answer_url(public: str, carrier: str, call_id: object) -> str:
    return f"{public}/telephony/{carrier}/answer?call={call_id}"


def status_url(public: str, carrier: str, call_id: object) -> str:
    return f"{public}/telephony/{carrier}/status?call={call_id}"
