"""An aiohttp client for requests made per sentence, under the same egress policy.

HTTP text-to-speech sends one request for each sentence the bot speaks. Through the OpenAI
SDK (over httpx) a streamed speech request cost ~4 ms of the event loop's CPU; through
aiohttp ~1 ms (``python -m bench.speech_request``, BENCHMARKS.md step 21).
:class:`AiohttpEgress` is that client:

* with a policy, every host name is resolved once per connection by
  :class:`CheckedResolver`, which refuses a non-public answer (``EgressPolicy.addresses``)
  and hands aiohttp the checked addresses to connect to, while the Host header, TLS SNI
  and certificate check keep the name; aiohttp never resolves an IP literal, so
  :meth:`AiohttpEgress.post` checks a literal itself before the request (a literal is
  connected to as is: ``connect_via`` routes names only);
* redirects are never followed (a 3xx is returned as is); no proxy from the environment;
* without a policy (the operator's own endpoint) it is a plain client.

One ``aiohttp.ClientSession`` (connection pool, TLS context) per event loop and policy,
like the httpx clients (:func:`shared_aiohttp`); the last server lifespan holding them
(:func:`holding_shared_aiohttp`) closes them at shutdown.
"""

from __future__ import annotations

import asyncio
import socket
import weakref
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from runtime.egress import HTTP_SCHEMES, EgressPolicy, EgressRefused, ip_literal

CONNECT_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 30.0  # between two reads of a response, as the httpx clients allow
#: Open connections per session (aiohttp's default is 100; the OpenAI SDK's client had 1,000).
MAX_CONNECTIONS = 1000


class CheckedResolver(AbstractResolver):
    """aiohttp's resolver, through the policy: checked addresses only, routed as it says."""

    def __init__(self, policy: EgressPolicy) -> None:
        self._policy = policy

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        found = await self._policy.addresses(host, port)  # EgressRefused if not allowed
        results: list[ResolveResult] = []
        for address in found:
            target, target_port = self._policy.route(address, port)
            results.append(ResolveResult(
                hostname=host, host=target, port=target_port,
                family=socket.AF_INET6 if ":" in target else socket.AF_INET,
                proto=0, flags=socket.AI_NUMERICHOST,
            ))
        return results

    async def close(self) -> None:
        return None


class AiohttpEgress:
    """POST requests whose response is read as a stream, under ``policy`` (None: unchecked)."""

    def __init__(self, policy: EgressPolicy | None) -> None:
        self._policy = policy
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def session(self) -> aiohttp.ClientSession:
        """This event loop's session (made on first use, again on another loop)."""
        loop = asyncio.get_running_loop()
        if self._session is None or self._loop is not loop or self._session.closed:
            if self._session is not None and not self._session.closed:
                self._session.detach()  # its loop is gone: nothing left to close there
            self._session, self._loop = self._new_session(), loop
        return self._session

    def _new_session(self) -> aiohttp.ClientSession:
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT_S,
                                        sock_read=READ_TIMEOUT_S)
        if self._policy is None:
            connector = aiohttp.TCPConnector(limit=MAX_CONNECTIONS)
        else:
            connector = aiohttp.TCPConnector(limit=MAX_CONNECTIONS, use_dns_cache=False,
                                             resolver=CheckedResolver(self._policy),
                                             ssl=self._policy.tls_context())
        return aiohttp.ClientSession(connector=connector, timeout=timeout, trust_env=False)

    @asynccontextmanager
    async def post(self, url: str, *, json: Mapping[str, Any],
                   headers: Mapping[str, str]) -> AsyncIterator[aiohttp.ClientResponse]:
        """POST ``json`` to ``url``; the response as it arrives (any status: the caller reads
        it). ``EgressRefused`` if the policy refuses the destination."""
        target = URL(url)
        if target.scheme not in HTTP_SCHEMES or not target.host:
            raise EgressRefused("URL must be http:// or https://host/...")
        if self._policy is not None and ip_literal(target.host) is not None:
            await self._policy.addresses(target.host, target.port or 0)
        async with self.session().post(target, json=json, headers=headers,
                                       allow_redirects=False) as response:
            yield response

    async def aclose(self) -> None:
        if self._session is not None and self._loop is asyncio.get_running_loop():
            await self._session.close()
        self._session = None


_UNCHECKED = AiohttpEgress(None)
_CHECKED: weakref.WeakKeyDictionary[EgressPolicy, AiohttpEgress] = weakref.WeakKeyDictionary()


def shared_aiohttp(policy: EgressPolicy | None) -> AiohttpEgress:
    """The one client for ``policy`` (None: the operator's endpoints, unchecked)."""
    if policy is None:
        return _UNCHECKED
    client = _CHECKED.get(policy)
    if client is None:
        client = _CHECKED[policy] = AiohttpEgress(policy)
    return client


_holders = 0  # server lifespans on this process using the shared sessions


@asynccontextmanager
async def holding_shared_aiohttp() -> AsyncIterator[None]:
    """Keep the shared sessions while held (a server's lifespan); when the last holder
    leaves, close those made on its event loop. Several apps in one process (the tests)
    each hold them, so one app's shutdown does not close another's sessions."""
    global _holders
    _holders += 1
    try:
        yield
    finally:
        _holders -= 1
        if _holders == 0:
            for client in (_UNCHECKED, *list(_CHECKED.values())):
                await client.aclose()
