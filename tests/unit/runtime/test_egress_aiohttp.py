"""The egress policy on aiohttp (HTTP text-to-speech): checked addresses, literals, redirects.

As in ``test_egress.py``, a fake resolver answers with public addresses and ``connect_via``
routes them to a loopback server, so the test sees which address aiohttp connected to.
"""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from runtime import egress_aiohttp
from runtime.egress import EgressPolicy, EgressRefused, IPAddress
from runtime.egress_aiohttp import AiohttpEgress, holding_shared_aiohttp, shared_aiohttp
from tests.fakes import LoopbackServer

PUBLIC = ipaddress.ip_address("93.184.215.14")
BODY = {"input": "hello"}


class Speech(LoopbackServer):
    """``POST /speak`` answers with the Host header and JSON body it got; ``POST /redirect``
    sends a 307 to ``/speak``."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, str, str | None]] = []  # path, Host, Authorization
        self.app.router.add_post("/speak", self._speak)
        self.app.router.add_post("/redirect", self._redirect)

    async def _speak(self, request: web.Request) -> web.Response:
        self.seen.append((request.path, request.headers["Host"],
                          request.headers.get("Authorization")))
        return web.json_response(await request.json())

    async def _redirect(self, request: web.Request) -> web.Response:
        self.seen.append((request.path, request.headers["Host"], None))
        raise web.HTTPTemporaryRedirect("/speak")


@pytest.fixture
async def speech() -> AsyncIterator[Speech]:
    async with Speech() as server:
        yield server


def _routed(speech: Speech, answers: list[IPAddress], connected: list[IPAddress],
            names: list[str]) -> EgressPolicy:
    async def resolve(host: str, _port: int) -> list[IPAddress]:
        names.append(host)
        return answers

    def via(address: IPAddress, _port: int) -> tuple[str, int]:
        connected.append(address)
        return "127.0.0.1", speech.port

    return EgressPolicy(resolver=resolve, connect_via=via)


async def test_a_name_connects_to_the_checked_address_and_keeps_its_host_header(
    speech: Speech,
) -> None:
    connected: list[IPAddress] = []
    names: list[str] = []
    http = AiohttpEgress(_routed(speech, [PUBLIC], connected, names))
    async with http.post(f"http://tts.tenant.example:{speech.port}/speak", json=BODY,
                         headers={"Authorization": "Bearer k"}) as response:
        assert response.status == 200 and await response.json() == BODY
    await http.aclose()
    assert names == ["tts.tenant.example"] and connected == [PUBLIC]
    assert speech.seen == [("/speak", f"tts.tenant.example:{speech.port}", "Bearer k")]


async def test_a_name_with_a_private_answer_is_refused_before_connecting(speech: Speech) -> None:
    connected: list[IPAddress] = []
    http = AiohttpEgress(_routed(speech, [PUBLIC, ipaddress.ip_address("10.0.0.5")],
                                 connected, []))
    with pytest.raises(EgressRefused, match="private"):
        async with http.post(f"http://mixed.example:{speech.port}/speak", json=BODY, headers={}):
            pass
    await http.aclose()
    assert connected == [] and speech.seen == []


async def test_a_private_ip_literal_is_refused_though_aiohttp_never_resolves_one(
    speech: Speech,
) -> None:
    http = AiohttpEgress(EgressPolicy())
    for url in (f"{speech.http_url}/speak", f"http://[::1]:{speech.port}/speak"):
        with pytest.raises(EgressRefused, match="loopback"):
            async with http.post(url, json=BODY, headers={}):
                pass
    await http.aclose()
    assert speech.seen == []


async def test_a_redirect_is_returned_not_followed(speech: Speech) -> None:
    http = AiohttpEgress(_routed(speech, [PUBLIC], [], []))
    async with http.post(f"http://tts.tenant.example:{speech.port}/redirect", json=BODY,
                         headers={}) as response:
        assert response.status == 307
    await http.aclose()
    assert [path for path, _, _ in speech.seen] == ["/redirect"]


async def test_only_http_urls_are_requested() -> None:
    http = AiohttpEgress(EgressPolicy())
    for url in ("ftp://example.com/x", "file:///etc/passwd", "http:///nohost"):
        with pytest.raises(EgressRefused):
            async with http.post(url, json=BODY, headers={}):
                pass


@pytest.fixture
def no_holders(monkeypatch: pytest.MonkeyPatch) -> None:
    """As in a fresh process: no server lifespan holds the shared sessions (an app another
    test left open in this process would otherwise keep them)."""
    monkeypatch.setattr(egress_aiohttp, "_holders", 0)


async def test_the_operators_client_is_unchecked_and_both_are_shared_per_policy(
    speech: Speech, no_holders: None,
) -> None:
    policy = EgressPolicy()
    assert shared_aiohttp(None) is shared_aiohttp(None)
    assert shared_aiohttp(policy) is shared_aiohttp(policy)
    assert shared_aiohttp(policy) is not shared_aiohttp(EgressPolicy())
    async with holding_shared_aiohttp():
        session = shared_aiohttp(None).session()
        assert shared_aiohttp(None).session() is session  # one pool per loop
        async with shared_aiohttp(None).post(f"{speech.http_url}/speak", json=BODY,
                                             headers={}) as response:
            assert response.status == 200
    assert session.closed


async def test_one_apps_shutdown_leaves_the_sessions_to_another_still_running(
    no_holders: None,
) -> None:
    first, second = holding_shared_aiohttp(), holding_shared_aiohttp()
    await first.__aenter__()
    await second.__aenter__()
    session = shared_aiohttp(None).session()
    await first.__aexit__(None, None, None)  # one server stops...
    assert not session.closed and shared_aiohttp(None).session() is session
    await second.__aexit__(None, None, None)  # ...the last one closes them
    assert session.closed
