"""The egress policy: address classes, resolve-once, IDNA, redirects, in-process routes.

A fake resolver is injected into the policy, and ``connect_via`` routes a checked public
address to a loopback server, so nothing leaves the machine while the test still sees
which address the transport connected to.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from runtime.egress import (
    EgressPolicy,
    EgressRefused,
    IPAddress,
    UnresolvableHost,
    address_problem,
)
from server.settings import Settings
from tests.fakes import LoopbackServer

PUBLIC = ipaddress.ip_address("93.184.215.14")
PUBLIC_2 = ipaddress.ip_address("2606:4700::1111")

REFUSED = {
    "10.1.2.3": "private", "172.16.0.1": "private", "192.168.1.1": "private",
    "127.0.0.1": "loopback", "127.8.9.10": "loopback", "::1": "loopback",
    "169.254.169.254": "link-local", "fe80::1": "link-local",
    "100.64.0.1": "CGNAT", "100.127.255.254": "CGNAT",
    "224.0.0.1": "multicast", "ff02::1": "multicast",
    "0.0.0.0": "unspecified", "::": "unspecified",
    "240.0.0.1": "reserved", "255.255.255.255": "reserved",
    "192.0.2.1": "documentation", "2001:db8::1": "documentation",
    "::ffff:127.0.0.1": "IPv4-mapped", "::ffff:8.8.8.8": "IPv4-mapped",
    "::127.0.0.1": "IPv4-compatible",
    "64:ff9b::a9fe:a9fe": "NAT64", "64:ff9b:1::1": "NAT64",
    "2002:7f00:1::1": "6to4 (embeds 127.0.0.1)", "2002:a9fe:a9fe::1": "6to4 (embeds 169.254.169.254)",
    "2001:0:4136:e378:8000:63bf:3fff:fdd2": "Teredo",
    "fec0::1": "site-local", "fc00::1": "unique-local", "fd12:3456::1": "unique-local",
    "198.18.0.1": "benchmarking",
}


@pytest.mark.parametrize(("address", "label"), sorted(REFUSED.items()))
def test_every_non_public_address_class_is_refused(address: str, label: str) -> None:
    assert address_problem(ipaddress.ip_address(address)) == label


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700::1111",
                                     "2a00:1450:4001:82a::200e"])
def test_public_addresses_pass(address: str) -> None:
    assert address_problem(ipaddress.ip_address(address)) is None


def test_settings_refuse_private_urls_and_share_keys_only_outside_production() -> None:
    dev = Settings(_env_file=None)  # type: ignore[call-arg]
    prod = Settings(_env_file=None, env="production",  # type: ignore[call-arg]
                    public_url="https://sb.example.com")
    assert dev.allow_private_urls is False and prod.allow_private_urls is False
    assert dev.shares_server_keys is True and prod.shares_server_keys is False
    assert Settings(_env_file=None, env="production",  # type: ignore[call-arg]
                    public_url="https://sb.example.com", share_server_keys=True).shares_server_keys is True


class Echo(LoopbackServer):
    """Answers with the Host header it got; ``/redirect`` sends a 302 to ``/secret``."""

    def __init__(self) -> None:
        super().__init__()
        self.paths: list[str] = []
        self.app.router.add_get("/echo", self._echo)
        self.app.router.add_get("/redirect", self._redirect)
        self.app.router.add_get("/secret", self._echo)

    async def _echo(self, request: web.Request) -> web.Response:
        self.paths.append(request.path)
        return web.Response(text=request.headers.get("Host", ""))

    async def _redirect(self, request: web.Request) -> web.Response:
        self.paths.append(request.path)
        raise web.HTTPFound("/secret")


class FakeResolver:
    def __init__(self, *answers: list[IPAddress]) -> None:
        self.answers = list(answers)
        self.names: list[str] = []

    async def __call__(self, host: str, port: int) -> list[IPAddress]:
        self.names.append(host)
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


@pytest.fixture
async def echo() -> AsyncIterator[Echo]:
    async with Echo() as server:
        yield server


def _policy(echo: Echo, resolver: FakeResolver, connected: list[IPAddress]) -> EgressPolicy:
    def via(address: IPAddress, port: int) -> tuple[str, int]:
        connected.append(address)
        return "127.0.0.1", echo.port

    return EgressPolicy(resolver=resolver, connect_via=via)


async def test_loopback_is_refused_by_default_and_allowed_only_when_asked(echo: Echo) -> None:
    async with EgressPolicy().client() as http:
        with pytest.raises(EgressRefused, match="loopback"):
            await http.get(f"{echo.http_url}/echo")
    async with EgressPolicy().openai_http_client() as http:
        with pytest.raises(EgressRefused, match="loopback"):
            await http.get(f"{echo.http_url}/echo")
    assert echo.paths == []
    async with EgressPolicy(allow_private=True).client() as http:
        assert (await http.get(f"{echo.http_url}/echo")).status_code == 200


async def test_dns_rebinding_gets_the_checked_address(echo: Echo) -> None:
    resolver = FakeResolver([PUBLIC], [ipaddress.ip_address("127.0.0.1")])
    connected: list[IPAddress] = []
    policy = _policy(echo, resolver, connected)
    async with policy.client() as http:
        response = await http.get(f"http://rebind.example:{echo.port}/echo")
    assert response.status_code == 200
    assert resolver.names == ["rebind.example"] and connected == [PUBLIC]
    # The next connection resolves again: now private, so refused.
    async with policy.client() as http:
        with pytest.raises(EgressRefused, match="non-public"):
            await http.get(f"http://rebind.example:{echo.port}/echo")
    assert connected == [PUBLIC] and echo.paths == ["/echo"]


async def test_a_name_with_any_private_answer_is_refused(echo: Echo) -> None:
    resolver = FakeResolver([PUBLIC, ipaddress.ip_address("10.0.0.5")])
    connected: list[IPAddress] = []
    async with _policy(echo, resolver, connected).client() as http:
        with pytest.raises(EgressRefused, match="private"):
            await http.get(f"http://mixed.example:{echo.port}/echo")
    assert connected == []


async def test_idna_2008_name_is_resolved_and_sent_as_httpx_encodes_it(echo: Echo) -> None:
    resolver = FakeResolver([PUBLIC_2])
    connected: list[IPAddress] = []
    policy = _policy(echo, resolver, connected)
    async with policy.client() as http:
        response = await http.get(f"http://straße.example:{echo.port}/echo")
    # IDNA 2003 (Python's codec) would say strasse.example: a different name.
    assert resolver.names == ["xn--strae-oqa.example"]
    assert response.text == f"xn--strae-oqa.example:{echo.port}"  # Host keeps the name
    assert connected == [PUBLIC_2]
    checked = await policy.check_url("https://straße.example/x")
    assert checked.host == "xn--strae-oqa.example" and checked.addresses == (PUBLIC_2,)


async def test_redirects_are_returned_not_followed(echo: Echo) -> None:
    async with EgressPolicy(allow_private=True).client() as http:
        response = await http.get(f"{echo.http_url}/redirect")
        forced = await http.get(f"{echo.http_url}/redirect", follow_redirects=True)
    assert response.status_code == forced.status_code == 302
    assert echo.paths == ["/redirect", "/redirect"]


async def test_tls_sni_carries_the_name_while_the_socket_goes_to_the_checked_address() -> None:
    hello = asyncio.get_running_loop().create_future()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        hello.set_result(await reader.read(4096))
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    connected: list[IPAddress] = []

    def via(address: IPAddress, _: int) -> tuple[str, int]:
        connected.append(address)
        return "127.0.0.1", port

    policy = EgressPolicy(resolver=FakeResolver([PUBLIC]), connect_via=via)
    async with server, policy.client(timeout=5) as http:
        with pytest.raises(Exception):  # noqa: B017 - the fake server hangs up mid-handshake
            await http.get("https://straße.example/echo")
    assert b"xn--strae-oqa.example" in await hello and connected == [PUBLIC]


async def test_bad_urls_and_unresolvable_names_are_refused() -> None:
    policy = EgressPolicy()
    for url in ("ftp://example.com/x", "file:///etc/passwd", "http:///nohost", "gopher://x"):
        with pytest.raises(EgressRefused):
            await policy.check_url(url)

    async def nothing(host: str, port: int) -> list[IPAddress]:
        raise OSError("no such name")

    with pytest.raises(UnresolvableHost):
        await EgressPolicy(resolver=nothing).check_url("https://nowhere.example/")


async def test_websocket_route_opens_the_checked_address_and_keeps_the_name() -> None:
    policy = EgressPolicy(resolver=FakeResolver([PUBLIC]))
    uri, kwargs = await policy.websocket_route("wss://straße.example/v1/listen?x=1")
    assert uri == "wss://xn--strae-oqa.example/v1/listen?x=1"
    assert kwargs == {"host": str(PUBLIC), "port": 443, "proxy": None,
                      "server_hostname": "xn--strae-oqa.example"}
    with pytest.raises(EgressRefused, match="link-local"):
        await EgressPolicy().websocket_route("ws://169.254.169.254/latest")


async def test_own_demo_routes_are_served_in_process(echo: Echo) -> None:
    seen: list[str] = []

    async def demo_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append(scope["path"])
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": b'{"status": "shipped"}'})

    resolver = FakeResolver([ipaddress.ip_address("127.0.0.1")])
    policy = EgressPolicy(resolver=resolver,
                          in_process={"https://sb.example.com/demo/": demo_app})
    async with policy.client() as http:
        response = await http.get("https://sb.example.com/demo/orders/42")
        assert response.json() == {"status": "shipped"}
        for url in ("https://sb.example.com/api/v1/users",  # not under /demo/
                    "https://sb.example.com/demo/%2e%2e/api/v1/users",  # traversal
                    "http://sb.example.com/demo/orders/42",  # another origin
                    "https://sb.example.com:8443/demo/orders/42"):
            with pytest.raises(EgressRefused):  # went to the network: loopback, refused
                await http.get(url)
    assert seen == ["/demo/orders/42"]
    assert resolver.names == ["sb.example.com"] * 4


async def test_a_slow_resolver_is_a_connect_timeout() -> None:
    import httpx

    async def slow(host: str, port: int) -> list[IPAddress]:
        await asyncio.sleep(10)
        return [PUBLIC]

    async with EgressPolicy(resolver=slow).client(timeout=0.05) as http:
        with pytest.raises(httpx.ConnectTimeout):
            await http.get("http://slow.example/")
