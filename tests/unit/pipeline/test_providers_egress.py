"""Speech services at an organization-chosen base URL connect through the egress policy.

Deepgram Nova STT opens its websocket inside Deepgram's SDK: the checked address must still
be the one connected to, and a redirect must not be followed to another host.
"""

from __future__ import annotations

import ipaddress

import pytest
from aiohttp import web

from pipeline.providers import StoredCredential, STTChoice, build_stt, resolve_credentials
from runtime.egress import EgressPolicy, EgressRefused, IPAddress
from tests.fakes import LoopbackServer
from tests.fakes.deepgram_server import FakeDeepgram

PUBLIC = ipaddress.ip_address("93.184.215.14")


class Redirector(LoopbackServer):
    """Answers the websocket handshake with a redirect to ``target``."""

    def __init__(self, target: str) -> None:
        super().__init__()
        self.target = target
        self.app.router.add_get("/v1/listen", self._redirect)

    async def _redirect(self, request: web.Request) -> web.Response:
        raise web.HTTPFound(self.target)


def _routed_policy(port: int, connected: list[IPAddress]) -> EgressPolicy:
    async def resolve(host: str, _: int) -> list[IPAddress]:
        assert host == "dg.tenant.example"
        return [PUBLIC]

    def via(address: IPAddress, _: int) -> tuple[str, int]:
        connected.append(address)
        return "127.0.0.1", port

    return EgressPolicy(resolver=resolve, connect_via=via)


def _nova(base_url: str, policy: EgressPolicy):  # type: ignore[no-untyped-def]
    creds = resolve_credentials({"deepgram": StoredCredential("dg-key", base_url)},
                                egress=policy)
    return build_stt(STTChoice(provider="deepgram"), creds, sample_rate=16000)


async def test_nova_connects_to_the_checked_address() -> None:
    async with FakeDeepgram(transcripts=["hello"]) as fake:
        connected: list[IPAddress] = []
        stt = _nova(f"ws://dg.tenant.example:{fake.port}", _routed_policy(fake.port, connected))
        async with stt._client.listen.v1.connect(model="nova-3"):
            pass
    assert connected == [PUBLIC]
    assert [c.path for c in fake.connections] == ["/v1/listen"]
    assert fake.connections[0].authorization == "Token dg-key"


async def test_nova_refuses_a_private_tenant_url_at_connect_time() -> None:
    async with FakeDeepgram(transcripts=["hello"]) as fake:
        stt = _nova(fake.ws_url, EgressPolicy())
        with pytest.raises(EgressRefused, match="loopback"):
            async with stt._client.listen.v1.connect(model="nova-3"):
                pass
    assert fake.connections == []


async def test_nova_does_not_follow_a_redirect_to_another_host() -> None:
    elsewhere = FakeDeepgram(transcripts=["hello"])
    async with elsewhere, Redirector(f"{elsewhere.ws_url}/v1/listen") as tenant:
        stt = _nova(f"ws://dg.tenant.example:{tenant.port}", _routed_policy(tenant.port, []))
        with pytest.raises(Exception):  # noqa: B017 - the SDK's own error for the 302
            async with stt._client.listen.v1.connect(model="nova-3"):
                pass
    assert elsewhere.connections == []


async def test_the_sdk_is_unchanged_for_the_operators_endpoint() -> None:
    async with FakeDeepgram(transcripts=["hello"]) as fake:
        creds = resolve_credentials({}, _Env(fake.ws_url))
        stt = build_stt(STTChoice(provider="deepgram"), creds, sample_rate=16000)
        async with stt._client.listen.v1.connect(model="nova-3"):
            pass
    assert len(fake.connections) == 1


class _Env:
    def __init__(self, url: str) -> None:
        self.deepgram_api_key = "dg-operator"
        self.deepgram_base_url = url
