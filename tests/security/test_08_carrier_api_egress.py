"""Finding 8 (and 1): carrier REST requests made for a tenant go through the egress policy.

The server builds carrier providers with its egress policy's client, so a carrier API host
that resolves to a non-public address (DNS poisoning, a hostile resolver, a tenant-chosen
host that slipped past the host checks) is refused before any connection is opened and
surfaces as the stable ``carrier_unreachable`` error. An operator's own
``<CARRIER>_API_BASE_URL`` (the test fakes) is trusted and bypasses it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

import pytest

from runtime.egress import EgressPolicy, IPAddress
from telephony.contract import CarrierApiError, plain_client
from telephony.registry import make_provider

pytestmark = pytest.mark.unit

CREDENTIALS = {
    "telnyx": {"api_key": "KEY", "public_key": "PUB"},
    "plivo": {"auth_id": "MAXXXXXXXXXXXXXXXXXX", "auth_token": "token"},
    "vonage": {"application_id": "app", "private_key": "x", "signature_secret": "s" * 32,
               "api_key": "key", "api_secret": "secret"},
    "exotel": {"account_sid": "acme", "api_key": "key", "api_token": "token",
               "subdomain": "api.exotel.com"},
}


def policy_resolving_to(address: str, seen: list[tuple[str, int]]) -> EgressPolicy:
    async def resolver(host: str, port: int) -> Sequence[IPAddress]:
        seen.append((host, port))
        return [ipaddress.ip_address(address)]

    def connect_via(checked: IPAddress, port: int) -> tuple[str, int]:
        raise AssertionError(f"a connection to {checked}:{port} was attempted")

    return EgressPolicy(resolver=resolver, connect_via=connect_via)


@pytest.mark.parametrize("carrier", sorted(CREDENTIALS))
@pytest.mark.parametrize("address", ["10.0.0.5", "127.0.0.1", "169.254.169.254", "::ffff:10.0.0.1"])
async def test_carrier_api_host_resolving_to_a_private_address_is_refused(carrier, address):
    seen: list[tuple[str, int]] = []
    provider = make_provider(carrier, CREDENTIALS[carrier], api_base_urls={},
                             http_client=policy_resolving_to(address, seen).client)
    with pytest.raises(CarrierApiError) as refused:
        await provider.account_has_number("+14155550100")
    assert refused.value.code == "carrier_unreachable"
    assert seen, "the carrier's API host was never checked by the policy"
    assert all(not host[0].replace(".", "").isdigit() for host in seen)  # the real API name


def test_an_operator_override_is_trusted_and_bypasses_the_policy():
    refusing = EgressPolicy()
    provider = make_provider("telnyx", CREDENTIALS["telnyx"],
                             api_base_urls={"telnyx": "http://127.0.0.1:9"},
                             http_client=refusing.client)
    assert provider.http_client is plain_client
    default = make_provider("telnyx", CREDENTIALS["telnyx"], api_base_urls={},
                            http_client=refusing.client)
    assert default.http_client == refusing.client
