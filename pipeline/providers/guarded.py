"""Speech services that connect to a tenant-chosen base URL through the egress policy.

An organization's stored credential may carry its own ``base_url`` (a self-hosted model, a
proxy). Those connections are checked when made, not only when the URL was saved, since
DNS can change in between (``runtime/egress.py``):

* websocket services (Deepgram Flux and Aura, ElevenLabs, Cartesia) resolve the host once,
  refuse a non-public address and open the socket to the checked address, with the
  handshake's Host header, TLS SNI and certificate check on the original name (with an
  explicit address, ``websockets`` refuses cross-origin redirects; a same-origin one stays
  on the checked address);
* OpenAI TTS speaks HTTP through ``runtime.egress_aiohttp.shared_aiohttp(policy)`` (same
  guarantees, for aiohttp);
* Deepgram Nova STT goes through Deepgram's SDK, which opens its websocket itself with
  ``websockets.legacy.client.connect`` and takes no socket or address. That call is
  wrapped (the seam the SDK's own ``deepgram.transport`` patches): before every
  (re)connect the URL is resolved and checked, and the SDK's call to ``connect`` gets the
  checked address (``host``/``port``, ``server_hostname`` for TLS) through a context
  variable set only around that call, and may not follow a redirect (the legacy client
  would follow one to any host).
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any, TypeVar

from pipeline.providers.bounded_send import SharedTimerConnection
from runtime.egress import EgressPolicy

T = TypeVar("T")


class UncompressedWebsocketMixin:
    """For pipecat ``WebsocketService`` subclasses: connect without permessage-deflate, and
    with the send bound on the loop's shared timer.

    The websockets client offers permessage-deflate by default and a server that accepts it
    makes every 20 ms audio message go through zlib: ~45 µs of CPU per message sent, against
    ~7 µs uncompressed (measured: BENCHMARKS.md, issue 15 step 3); audio hardly compresses.
    pipecat bounds every send with a timer of its own; ``SharedTimerConnection`` keeps the
    bound without one (``pipeline/providers/bounded_send.py``).
    """

    async def _websocket_connect(self, uri: str, **kwargs: Any) -> Any:
        kwargs.setdefault("compression", None)
        kwargs.setdefault("create_connection", SharedTimerConnection)
        return await super()._websocket_connect(uri, **kwargs)  # type: ignore[misc]


class EgressWebsocketMixin(UncompressedWebsocketMixin):
    """For pipecat ``WebsocketService`` subclasses: connect through ``_egress_policy``."""

    _egress_policy: EgressPolicy | None = None

    async def _websocket_connect(self, uri: str, **kwargs: Any) -> Any:
        if self._egress_policy is not None:
            uri, route = await self._egress_policy.websocket_route(uri)
            kwargs.update(route)
        return await super()._websocket_connect(uri, **kwargs)  # type: ignore[misc]


@functools.cache
def _guarded_class(cls: type[Any]) -> type[Any]:
    # Same name as the service: pipecat names processors after their class, and usage is
    # attributed to providers by that name (pipeline/observers/usage.py).
    return type(cls.__name__, (EgressWebsocketMixin, cls), {"__qualname__": cls.__qualname__})


@functools.cache
def _uncompressed_class(cls: type[Any]) -> type[Any]:
    return type(cls.__name__, (UncompressedWebsocketMixin, cls), {"__qualname__": cls.__qualname__})


def guarded_websocket_service(cls: type[T], policy: EgressPolicy | None, **kwargs: Any) -> T:
    """``cls(**kwargs)``, connecting through ``policy`` when one is given; never compressed."""
    if policy is None:
        return _uncompressed_class(cls)(**kwargs)  # type: ignore[no-any-return]
    service = _guarded_class(cls)(**kwargs)
    service._egress_policy = policy
    return service  # type: ignore[no-any-return]


_SDK_ROUTE: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "deepgram_sdk_route", default=None)


def _install_sdk_route() -> None:
    """Wrap the Deepgram SDK's websocket ``connect`` (once, in the modules that call it for
    ``listen.v1``, as the SDK's own ``deepgram.transport.install_transport`` does): with a
    route in ``_SDK_ROUTE`` it opens the checked address and follows no redirect; without
    one it is the SDK's own call, unchanged."""
    import importlib

    for name in ("deepgram.listen.v1.client", "deepgram.listen.v1.raw_client"):
        module = importlib.import_module(name)
        original = module.websockets_client_connect
        if getattr(original, "_egress_routed", False):
            continue
        module.websockets_client_connect = _routed(original)


def _routed(original: Any) -> Any:
    def routed_connect(uri: str, **kwargs: Any) -> Any:
        route = _SDK_ROUTE.get()
        if route is None:
            return original(uri, **kwargs)
        connection = original(uri, **kwargs, **route)
        connection.MAX_REDIRECTS_ALLOWED = 1  # a redirect ends the attempt
        return connection

    routed_connect._egress_routed = True  # type: ignore[attr-defined]
    return routed_connect


def check_deepgram_sdk_connects(service: Any, policy: EgressPolicy, ws_url: str) -> None:
    """Every connect of a pipecat ``DeepgramSTTService``'s SDK client: check ``ws_url``
    (the SDK's base URL) and connect to the checked address."""
    _install_sdk_route()
    v1 = service._client.listen.v1
    connect = v1.connect

    @asynccontextmanager
    async def checked_connect(**kwargs: Any) -> AsyncIterator[Any]:
        _, route = await policy.websocket_route(ws_url)
        route.pop("proxy", None)  # the legacy client has no proxy support to turn off
        async with AsyncExitStack() as stack:
            token = _SDK_ROUTE.set(route)
            try:
                connection = await stack.enter_async_context(connect(**kwargs))
            finally:
                _SDK_ROUTE.reset(token)
            yield connection

    v1.connect = checked_connect
