"""The preamble every carrier webhook goes through, and the replies it can give.

A route turns the HTTP request into a ``CarrierWebhook`` (carrier, the URL as the carrier
signed it, headers, body) and hands it to ``inbound``/``outbound``/``status``. Those verify
it with ``verified`` — the one place a webhook's authenticity is decided (signature, and
the carrier's replay window) — before anything is read from or written to the database on
the strength of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from uuid import UUID

import structlog

from db import carriers as carriers_db
from db.carriers import CarrierCall
from server.calls.phone.carriers import provider_for
from telephony.contract import CarrierProvider

if TYPE_CHECKING:
    from server.services import Services

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class CarrierWebhook:
    carrier: str  # a registered carrier (the route checked it)
    method: str
    url: str  # the URL as the carrier requested it: PUBLIC_URL + path + query
    public_base: str  # PUBLIC_URL (or the request's own base)
    headers: Mapping[str, str]  # lower-cased names
    body: bytes  # the POST body, or the query string of a GET
    query: Mapping[str, str]

    @property
    def signed_body(self) -> bytes:
        """What carriers sign besides the URL: the body of a POST; a GET is signed by its URL."""
        return b"" if self.method == "GET" else self.body


@dataclass(frozen=True, slots=True)
class WebhookReply:
    status: int = 200
    body: str = ""
    media_type: str | None = None

    @classmethod
    def markup(cls, content: tuple[str, str]) -> WebhookReply:
        """The carrier's markup: (content type, body)."""
        return cls(200, content[1], content[0])


NO_CONTENT = WebhookReply(204)
NOT_FOUND = WebhookReply(404)
# An unsigned or forged request, and a request for a number or call we do not have, get the
# same answer: nobody can probe which numbers are registered here.
REFUSED = WebhookReply(403, "invalid signature")


async def verified(services: Services, hook: CarrierWebhook, provider: CarrierProvider) -> bool:
    """Whether ``hook`` really comes from the carrier account behind ``provider`` and is
    not a replay of one that did."""
    if not provider.verify_webhook(hook.url, hook.headers, hook.signed_body):
        log.warning("telephony_bad_signature", carrier=hook.carrier, url=hook.url)
        return False
    # a signed request is accepted once within the carrier's signature window: a replay is
    # answered like a forgery (keys are offered only after the signature verified)
    key = provider.replay_key(hook.url, hook.headers, hook.signed_body)
    if key is not None and not await services.replay_guard.first_seen(key.key, key.ttl_seconds):
        log.warning("telephony_webhook_replayed", carrier=hook.carrier, url=hook.url)
        return False
    return True


async def callback_call(
    services: Services, hook: CarrierWebhook
) -> tuple[CarrierCall, CarrierProvider] | WebhookReply:
    """The call named by a callback's ``?call=`` (our own answer/status URLs) and its
    carrier provider, once the webhook is verified; else the reply to give."""
    try:
        call_id = UUID(hook.query.get("call", ""))
    except ValueError:
        return NOT_FOUND
    call = await carriers_db.call_carrier(services.db, call_id)
    if call is None or call.carrier != hook.carrier:
        log.warning("telephony_unknown_call", carrier=hook.carrier, call_id=str(call_id))
        return NOT_FOUND
    provider = provider_for(services, hook.carrier, call.credentials)
    if not await verified(services, hook, provider):
        return REFUSED
    return call, provider
