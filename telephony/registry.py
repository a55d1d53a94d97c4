"""The carriers Switchboard speaks. Adding a carrier = one package + one line here."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from telephony.contract import CarrierProvider, HttpClientFactory
from telephony.exotel import ExotelProvider
from telephony.plivo import PlivoProvider
from telephony.telnyx import TelnyxProvider
from telephony.twilio import TwilioProvider
from telephony.vonage import VonageProvider

CARRIERS: dict[str, type[CarrierProvider]] = {
    TwilioProvider.name: TwilioProvider,
    TelnyxProvider.name: TelnyxProvider,
    PlivoProvider.name: PlivoProvider,
    VonageProvider.name: VonageProvider,
    ExotelProvider.name: ExotelProvider,
}


class UnknownCarrier(KeyError):
    pass


def carrier_class(name: str) -> type[CarrierProvider]:
    try:
        return CARRIERS[name]
    except KeyError:
        raise UnknownCarrier(name) from None


def make_provider(
    name: str, credentials: Mapping[str, Any], *, api_base_urls: Mapping[str, str | None],
    http_client: HttpClientFactory | None = None,
) -> CarrierProvider:
    """Instantiate carrier ``name`` with decrypted ``credentials``; ``api_base_urls`` maps
    carrier name → REST base URL override (settings ``<CARRIER>_API_BASE_URL``).
    ``http_client`` makes the clients its REST requests use, except towards an operator's
    override, which is trusted like the operator's provider endpoints."""
    base = api_base_urls.get(name)
    return carrier_class(name)(credentials, api_base_url=base,
                               http_client=None if base else http_client)


def missing_credentials(name: str, credentials: Mapping[str, Any]) -> list[str]:
    """The credential keys carrier ``name`` needs that ``credentials`` lacks."""
    return [f for f in carrier_class(name).credential_fields if not credentials.get(f)]
